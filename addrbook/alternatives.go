package addrbook

import "slices"

// Signed addresses and several addresses per peer, both opt-in.
//
// An entry has one primary address: the one upstream's book stores, that
// the file's "addr" holds, that gossip and the bucket hash use. Next to it
// an entry may keep alternatives (other IP families or ports of the same
// peer) and a verified flag. Verified means the primary address came from
// a record that the peer itself signed (a libp2p signed peer record), so
// no third party made it up. Gossip carries neither: a PexAddrs message
// names one address per ID and no signature, so it neither sets nor
// clears the flag. AddAddress keeps the first address learned for an ID
// and ignores later ones, as upstream does. A gossiped address for a
// verified ID therefore never replaces its primary.
//
// A book whose callers never use AddVerified or AddAlternatives stores no
// alternatives and no flags. Its file and its draws are then byte for
// byte and draw for draw what they would be without this code.

// MaxAlternatives bounds the alternatives kept per entry, besides the
// primary address. An address here is an IP and a port, so transports
// that share a port (TCP and QUIC on 26656) count once. A dual-stack
// node with TCP, QUIC and a WebTransport or WebRTC port, plus a NAT-mapped
// variant, has at most 8. A peer that signs more cannot make an entry
// cost more than about 8 × 48 bytes, nor a pick cost more than 9 dials.
const MaxAlternatives = 8

// verifiedPickTries is how many upstream-style draws PickAddress makes,
// under PreferVerified, looking for a verified entry before it settles
// for the first draw. With a fraction f of a class's bucket slots
// verified, the pick finds one with probability 1-(1-f)^8: 57 % at
// f = 0.1, 83 % at f = 0.2. It is a soft preference on purpose. In the
// honest discovery simulation (100 nodes, seeds 1-3), 8 tries left the
// rounds to peers and to books as without the preference; 32 tries
// cost a round to peers on two seeds and two rounds to books on one,
// because nodes kept dialling the few peers whose records their
// neighbours held.
const verifiedPickTries = 8

// AddVerified records addrs as the addresses peer id signed for in a valid
// signed peer record. src is the peer that relayed the record. It places
// a new entry as AddAddress would place addrs[0] learned from src.
//
// Every address must carry id: otherwise nothing changes and the
// *AddError names the first address that does not (reason
// ErrIDMismatch). The caller checks the signature; the book only refuses
// records claimed for the wrong ID. After that each address goes through
// AddAddress's checks (bans, private IDs, our own addresses, validity,
// routability in strict mode). Addresses that fail are skipped. If none
// is left, the error is the first address's failure.
//
// For an unknown ID the first usable address becomes the primary, and
// the rest, deduplicated, the alternatives (at most MaxAlternatives;
// later ones are dropped); the entry is marked verified. For a known ID:
//
//   - the record lists the primary: the primary stays with its class and
//     counters, the other addresses replace the alternatives (the newest
//     record is the peer's whole current word), and the entry is marked
//     verified;
//   - it does not, and the entry is new: nothing ever proved the primary,
//     so the entry is replaced by a verified new one at the first address;
//   - it does not, and the entry is old: the primary stays, as upstream
//     never replaces the address of an entry we have connected to, and
//     the record's addresses become its alternatives, so a dial tries
//     them too. The entry is no longer verified: the record it was
//     verified by is not the one we hold now. This is also what a relayer
//     gets for replaying a peer's stale record, whose signature is still
//     valid: it cannot move a proven peer to an address it has left.
//
// The rule makes an old entry's primary the one thing a record cannot
// change, and the peer's identify record, at the next connection, the
// thing that sets the flag again.
func (b *Book) AddVerified(id string, addrs []NetAddress, src NetAddress) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	nid, err := b.claimedID(id, addrs, src)
	if err != nil {
		return err
	}
	var usable []NetAddress
	var firstErr error
	for _, a := range addrs {
		a, s, err := b.admit(a, src)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		src = s
		if !slices.Contains(usable, a) {
			usable = append(usable, a)
		}
	}
	if len(usable) == 0 {
		return firstErr
	}
	if i, ok := b.lookup[nid]; ok {
		ka := &b.entries[i]
		if k := slices.Index(usable, ka.addr()); k >= 0 {
			b.setExt(i, slices.Delete(usable, k, k+1), true)
			return nil
		}
		if ka.isOld() {
			b.setExt(i, usable, false)
			return nil
		}
		b.removeEntry(i)
		// A promotion waiting on a test was earned at the old address.
		delete(b.pending, nid)
	}
	b.addNew(usable[0], src, makeExt(usable[1:], true))
	return nil
}

// claimedID normalises id and checks that every address carries it.
func (b *Book) claimedID(id string, addrs []NetAddress, src NetAddress) (string, error) {
	nid, err := b.rule.Normalize(id)
	if err != nil {
		return "", &AddError{Addr: NetAddress{ID: id}, Src: src, Reason: ErrInvalidAddress,
			Err: &AddressError{Input: id, Reason: "bad ID", Err: err}}
	}
	if len(addrs) == 0 {
		return "", &AddError{Addr: NetAddress{ID: nid}, Src: src, Reason: ErrNoAddresses}
	}
	for _, a := range addrs {
		if aid, err := b.rule.Normalize(a.ID); err != nil || aid != nid {
			return "", &AddError{Addr: a, Src: src, Reason: ErrIDMismatch}
		}
	}
	return nid, nil
}

// AddAlternatives adds addrs, unverified (from identify, say), after the
// alternatives the entry for id already has. Every address must carry
// id, as in AddVerified. An ID that is not in the book is an *AddError
// with reason ErrUnknownID. Alternatives belong to an entry and do not
// create one: an address with no entry has never been vouched for by
// anyone's gossip or record. Addresses AddAddress would refuse are
// skipped without error: identify reports every listen address,
// loopback and private ones included, and the peer did nothing wrong.
// So are the primary, ones already kept, and any beyond MaxAlternatives.
// The verified flag stays as it was: it is about the primary address.
func (b *Book) AddAlternatives(id string, addrs []NetAddress) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	nid, err := b.claimedID(id, addrs, NetAddress{})
	if err != nil {
		return err
	}
	i, ok := b.lookup[nid]
	if !ok {
		return &AddError{Addr: NetAddress{ID: nid}, Reason: ErrUnknownID}
	}
	ka := &b.entries[i]
	primary := ka.addr()
	alts := slices.Clone(ka.alts())
	// Any non-zero source passes admit's source check; the ID-level
	// checks passed when the entry was stored and hold while it is.
	self := primary
	for _, a := range addrs {
		if len(alts) >= MaxAlternatives {
			break
		}
		a, _, err := b.admit(a, self)
		if err != nil || a == primary || slices.Contains(alts, a) {
			continue
		}
		alts = append(alts, a)
	}
	b.setExt(i, alts, ka.verified())
	return nil
}

// Addresses returns the primary address of id followed by its
// alternatives, or nil for an unknown ID. The slice is a copy.
func (b *Book) Addresses(id string) []NetAddress {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.lookup[b.normID(id)]
	if !ok {
		return nil
	}
	ka := &b.entries[i]
	return append([]NetAddress{ka.addr()}, ka.alts()...)
}

// IsVerified reports whether id is in the book with a primary address its
// own peer signed for.
func (b *Book) IsVerified(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, ok := b.lookup[b.normID(id)]
	return ok && b.entries[i].verified()
}

// makeExt returns the ext for alts and verified, or nil when there is
// nothing to keep, so entries without either state stay pointer-free.
func makeExt(alts []NetAddress, verified bool) *entryExt {
	if len(alts) > MaxAlternatives {
		alts = alts[:MaxAlternatives]
	}
	if len(alts) == 0 && !verified {
		return nil
	}
	return &entryExt{alts: slices.Clip(slices.Clone(alts)), verified: verified}
}

// setExt replaces entry i's ext, keeping the verified count exact.
func (b *Book) setExt(i int32, alts []NetAddress, verified bool) {
	ka := &b.entries[i]
	if ka.verified() {
		b.nVerified--
	}
	ka.ext = makeExt(alts, verified)
	if ka.verified() {
		b.nVerified++
	}
}

// SetPreferVerified switches Options.PreferVerified at run time: the
// reactor sets it from its configuration on a book it did not build.
func (b *Book) SetPreferVerified(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.preferVerified = on
}

// preferringVerified reports whether PickAddress should favour verified
// entries now: the option is on and there is one to favour.
func (b *Book) preferringVerified() bool { return b.preferVerified && b.nVerified > 0 }
