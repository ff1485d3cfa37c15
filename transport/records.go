package transport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// PeerRecordsProtocolID relays libp2p signed peer records between pexp2p
// nodes. It is its own protocol, never channel 0, so upstream and classic
// peers see nothing new; a node opens it only to peers whose identify
// lists it.
const PeerRecordsProtocolID protocol.ID = "/pexp2p/peer-records/1.0.0"

// peerRecordsServiceName is the resource-manager service of the
// protocol's streams, apart from PEX's.
const peerRecordsServiceName = "pexp2p.peer-records"

// recordsLog is "transport.records" in the output.
var recordsLog = log.Named("records")

// AddressSink is the part of the address book that signed records and
// alternative addresses feed. *addrbook.Book implements it.
type AddressSink interface {
	// AddVerified adds addrs of id as proven by id's own signature
	// (src is the peer that passed them on).
	AddVerified(id string, addrs []addrbook.NetAddress, src addrbook.NetAddress) error
	// AddAlternatives adds unverified further addresses of an entry the
	// book already has.
	AddAlternatives(id string, addrs []addrbook.NetAddress) error
	// Addresses lists every address the book holds for id, its primary
	// first.
	Addresses(id string) []addrbook.NetAddress
}

// ErrConfig is wrapped by the error of a Config field whose value
// cannot run; the message names the field and the value.
var ErrConfig = errors.New("invalid transport config")

func configErr(field string, value any, reason string) error {
	return fmt.Errorf("%w: %s = %v: %s", ErrConfig, field, value, reason)
}

// validateRecords checks the fields of signed records and alternative
// addresses, after setDefaults.
func (c *Config) validateRecords() error {
	if (c.SignedRecords || c.DialAlternatives) && c.Addresses == nil {
		field := "SignedRecords"
		if !c.SignedRecords {
			field = "DialAlternatives"
		}
		return configErr(field, true, "needs Addresses (the address book) to feed")
	}
	if c.MaxPeerRecords < 0 {
		return configErr("MaxPeerRecords", c.MaxPeerRecords, "must not be negative")
	}
	if c.RecordRequestInterval < 0 {
		return configErr("RecordRequestInterval", c.RecordRequestInterval, "must not be negative")
	}
	if c.RecordRequestBurst < 0 {
		return configErr("RecordRequestBurst", c.RecordRequestBurst, "must not be negative")
	}
	return nil
}

// recordsService is the node's side of signed records and alternative
// addresses; nil on a node with both off.
type recordsService struct {
	n       *Node
	signed  bool
	alts    bool
	sink    AddressSink
	store   *recordStore
	limiter *requestLimiter

	mu       sync.Mutex
	fetching map[peer.ID]bool

	// onPexAddrs, set by tests before Start, sees what afterPexAddrs
	// decided for a PexAddrs: the IDs to ask for and whether it asks.
	onPexAddrs func(from peer.ID, ask []peer.ID, asking bool)
	// onFetched, set by tests before Start, gets the outcome of each
	// request we made; beforeFetch runs just before each request (a
	// test's stand-in for a long round trip).
	onFetched   func(from peer.ID, err error)
	beforeFetch func(from peer.ID)
}

func newRecordsService(n *Node) *recordsService {
	c := &n.cfg
	if !c.SignedRecords && !c.DialAlternatives {
		return nil
	}
	return &recordsService{
		n:        n,
		signed:   c.SignedRecords,
		alts:     c.DialAlternatives,
		sink:     c.Addresses,
		store:    newRecordStore(c.MaxPeerRecords),
		limiter:  newRequestLimiter(c.RecordRequestInterval, c.RecordRequestBurst),
		fetching: map[peer.ID]bool{},
	}
}

// start registers the protocol handler (signed records only) and follows
// identify, whose completions carry each peer's own signed record and
// listen addresses.
func (r *recordsService) start(h host.Host) error {
	if r == nil {
		return nil
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return fmt.Errorf("transport: subscribing to identify events: %w", err)
	}
	if r.signed {
		h.SetStreamHandler(PeerRecordsProtocolID, r.handleStream)
	}
	r.n.wg.Add(1)
	go r.identifyLoop(sub)
	return nil
}

func (r *recordsService) stop(h host.Host) {
	if r != nil && r.signed {
		h.RemoveStreamHandler(PeerRecordsProtocolID)
	}
}

func (r *recordsService) identifyLoop(sub event.Subscription) {
	defer r.n.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-r.n.ctx.Done():
			return
		case ev, ok := <-sub.Out():
			if !ok {
				return
			}
			r.identified(ev.(event.EvtPeerIdentificationCompleted))
		}
	}
}

// identified keeps a peer's own record (identify checked that its
// signer is the peer) and feeds the book once the peer is set up; a
// peer still in setup is fed by peerReady.
func (r *recordsService) identified(e event.EvtPeerIdentificationCompleted) {
	if r.signed && e.SignedPeerRecord != nil {
		if raw, err := e.SignedPeerRecord.Marshal(); err == nil {
			if rec, err := VerifyPeerRecord(raw, map[peer.ID]bool{e.Peer: true}); err == nil {
				r.store.put(&storedRecord{id: e.Peer, seq: rec.Seq, raw: raw, addrs: recordNetAddrs(rec)})
			} else {
				recordsLog.Debugw("identify's signed record not kept", "peer", e.Peer, "err", err)
			}
		}
	}
	n := r.n
	n.mu.Lock()
	ps := n.peers[e.Peer]
	ready := ps != nil && ps.added
	n.mu.Unlock()
	if ready {
		r.feedPeer(ps)
	}
}

// peerReady is called once a peer is handed to the reactor, which has
// added its address to the book by then.
func (r *recordsService) peerReady(ps *peerState) {
	if r != nil {
		r.feedPeer(ps)
	}
}

// feedPeer gives the book what we know of a set-up peer: its own record
// as verified addresses, its identify listen addresses as alternatives.
func (r *recordsService) feedPeer(ps *peerState) {
	id := ps.id.String()
	src := ps.info.ListenAddr
	if r.signed {
		if sr := r.store.get(ps.id); sr != nil && len(sr.addrs) > 0 {
			if src.IsZero() {
				src = sr.addrs[0]
			}
			if err := r.sink.AddVerified(id, sr.addrs, src); err != nil {
				recordsLog.Debugw("book refused a peer's own record", "peer", id, "err", err)
			}
		}
	}
	if r.alts {
		if alts := netAddrsOf(r.n.host.Peerstore().Addrs(ps.id), ps.id); len(alts) > 0 {
			if err := r.sink.AddAlternatives(id, alts); err != nil {
				recordsLog.Debugw("book refused a peer's listen addresses", "peer", id, "err", err)
			}
		}
	}
}

// recordNetAddrs are the record's addresses this face can hold (QUIC and
// TCP on one port give one NetAddress).
func recordNetAddrs(rec *peer.PeerRecord) []addrbook.NetAddress {
	return netAddrsOf(rec.Addrs, rec.PeerID)
}

func netAddrsOf(addrs []ma.Multiaddr, id peer.ID) []addrbook.NetAddress {
	var out []addrbook.NetAddress
	for _, a := range addrs {
		na, _, err := NetAddressFromMultiaddr(a, id)
		if err == nil && !slices.Contains(out, na) {
			out = append(out, na)
		}
	}
	return out
}

// alternativeAddrs are the dialable multiaddrs of every address the book
// holds for addr's peer besides addr itself, for Dial to offer the swarm
// with the primary.
func (r *recordsService) alternativeAddrs(addr addrbook.NetAddress, have []ma.Multiaddr) []ma.Multiaddr {
	if r == nil || !r.alts {
		return nil
	}
	var out []ma.Multiaddr
	for _, a := range r.sink.Addresses(addr.ID) {
		if a == addr || !a.IP.IsValid() || a.Port == 0 {
			continue
		}
		full, err := NetAddressToMultiaddrs(a)
		if err != nil {
			continue
		}
		for _, m := range full {
			t, _ := peer.SplitAddr(m)
			if t != nil && !slices.ContainsFunc(have, t.Equal) && !slices.ContainsFunc(out, t.Equal) {
				out = append(out, t)
			}
		}
	}
	return out
}

// handleStream answers one request, in the manner of go-libp2p's ping
// handler: attach to a service scope, reserve memory for the largest
// exchange, bound the stream in time, reset on any error.
func (r *recordsService) handleStream(s network.Stream) {
	const reserve = maxRecordsRequestSize + MaxRecordsMsgSize
	if !scopeInbound(s, peerRecordsServiceName, reserve, network.ReservationPriorityMedium, recordsLog, "peer-records") {
		return
	}
	defer s.Scope().ReleaseMemory(reserve)

	n := r.n
	from := s.Conn().RemotePeer()
	n.mu.Lock()
	ps := n.peers[from]
	known := ps != nil && ps.added
	n.mu.Unlock()
	if !known {
		// Records follow a PexAddrs, which we send only to set-up peers.
		_ = s.Reset()
		return
	}
	if !r.limiter.allow(from, n.cfg.Clock.Now()) {
		recordsLog.Debugw("peer-records request over the rate", "peer", from)
		_ = s.ResetWithError(network.StreamRateLimited)
		return
	}
	_ = s.SetDeadline(time.Now().Add(n.cfg.StreamTimeout))
	ids, err := readRecordsMessage(s, maxRecordsRequestSize, DecodeRecordsRequest)
	if err != nil {
		if IsRecordsViolation(err) {
			r.violation(s, from, err)
			return
		}
		_ = s.Reset()
		recordsLog.Debugw("peer-records request failed", "peer", from, "err", err)
		return
	}
	var envs [][]byte
	for _, id := range ids {
		if raw := r.envelopeOf(id); raw != nil {
			envs = append(envs, raw)
		}
	}
	if _, err := s.Write(EncodeRecordsResponse(envs)); err != nil {
		_ = s.Reset()
		recordsLog.Debugw("writing peer-records answer", "peer", from, "err", err)
		return
	}
	_ = s.Close()
}

// envelopeOf is the record we hold for id: our own current one from the
// host's certified address book, or a verified one we keep.
func (r *recordsService) envelopeOf(id peer.ID) []byte {
	h := r.n.host
	if id == h.ID() {
		if cab, ok := peerstore.GetCertifiedAddrBook(h.Peerstore()); ok {
			if env := cab.GetPeerRecord(id); env != nil {
				if raw, err := env.Marshal(); err == nil && len(raw) <= MaxEnvelopeSize {
					return raw
				}
			}
		}
		return nil
	}
	if sr := r.store.get(id); sr != nil {
		return sr.raw
	}
	return nil
}

// afterPexAddrs runs once a PexAddrs from a peer went to the reactor,
// on the handler of its stream, which is still open: records we hold
// for its IDs are fed to the book, and the others are asked of the
// sender if it speaks the protocol.
func (r *recordsService) afterPexAddrs(from peer.ID, msg pex.Message) {
	if r == nil || !r.signed {
		return
	}
	m, ok := msg.(*tmp2p.PexAddrs)
	if !ok || len(m.Addrs) == 0 {
		return
	}
	n := r.n
	blocked, _ := blockedAt(n, n.blocked, from)
	n.mu.Lock()
	ps := n.peers[from]
	if ps == nil || !ps.added || ps.stopping || n.stopped || blocked {
		// Gone, or stopped by the reactor for this very message.
		n.mu.Unlock()
		return
	}
	src := ps.info.ListenAddr
	n.mu.Unlock()

	var ask []peer.ID
	for _, a := range m.Addrs {
		id, err := peer.Decode(a.ID)
		if err != nil || id == from || id == n.host.ID() || slices.Contains(ask, id) {
			continue
		}
		if sr := r.store.get(id); sr != nil {
			r.feedRecord(sr, src)
			continue
		}
		if len(ask) < MaxRecordIDs {
			ask = append(ask, id)
		}
	}
	r.mu.Lock()
	asking := len(ask) > 0 && r.speaks(from) && !r.fetching[from]
	if asking {
		r.fetching[from] = true
	}
	r.mu.Unlock()
	if r.onPexAddrs != nil {
		r.onPexAddrs(from, ask, asking)
	}
	if !asking {
		return
	}
	defer func() {
		r.mu.Lock()
		delete(r.fetching, from)
		r.mu.Unlock()
	}()
	// Asked here, before the PEX stream's handler closes it, because the
	// sender holds its side open until we do: a seed lets its visitor go
	// only when its answer's stream is done (StopPeerGracefully), so a
	// request made afterwards would find the connection closed.
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.wg.Add(1)
	n.mu.Unlock()
	defer n.wg.Done()
	err := r.fetch(from, ask, src)
	if r.onFetched != nil {
		r.onFetched(from, err)
	}
	if err != nil {
		if IsRecordsViolation(err) {
			r.violation(nil, from, err)
			return
		}
		recordsLog.Debugw("fetching peer records failed", "peer", from, "err", err)
	}
}

// speaks reports whether p's identify listed the protocol: a peer that
// did not announce it is never asked.
func (r *recordsService) speaks(p peer.ID) bool {
	protos, err := r.n.host.Peerstore().SupportsProtocols(p, PeerRecordsProtocolID)
	return err == nil && len(protos) > 0
}

func (r *recordsService) feedRecord(sr *storedRecord, src addrbook.NetAddress) {
	if len(sr.addrs) == 0 {
		return
	}
	if err := r.sink.AddVerified(sr.id.String(), sr.addrs, src); err != nil {
		recordsLog.Debugw("book refused a verified record", "peer", sr.id, "err", err)
	}
}

// fetch asks from for the records of ids and feeds what verifies. Any
// record that does not verify discards the whole answer: its sender
// relays forgeries, and verification is what relaying promises.
func (r *recordsService) fetch(from peer.ID, ids []peer.ID, src addrbook.NetAddress) error {
	n := r.n
	if r.beforeFetch != nil {
		r.beforeFetch(from)
	}
	req, err := EncodeRecordsRequest(ids)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(network.WithNoDial(n.ctx, "peer records"), n.cfg.StreamTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, from, PeerRecordsProtocolID)
	if err != nil {
		return recordsErr(ErrRecordsIO, err, "opening stream")
	}
	if err := s.Scope().SetService(peerRecordsServiceName); err != nil {
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return recordsErr(ErrRecordsIO, err, "attaching stream to service")
	}
	if err := s.Scope().ReserveMemory(MaxRecordsMsgSize, network.ReservationPriorityMedium); err != nil {
		_ = s.ResetWithError(network.StreamResourceLimitExceeded)
		return recordsErr(ErrRecordsIO, err, "reserving memory")
	}
	defer s.Scope().ReleaseMemory(MaxRecordsMsgSize)
	_ = s.SetDeadline(time.Now().Add(n.cfg.StreamTimeout))
	if _, err := s.Write(req); err != nil {
		_ = s.Reset()
		return recordsErr(ErrRecordsIO, err, "writing request")
	}
	// An answerer that has read the request may answer and close before
	// our half-close lands; over QUIC the half-close then fails although
	// the answer is on its way, so read it regardless.
	if err := s.CloseWrite(); err != nil && !closedByReader(err) {
		_ = s.Reset()
		return recordsErr(ErrRecordsIO, err, "closing request")
	}
	envs, err := readRecordsMessage(s, MaxRecordsMsgSize, DecodeRecordsResponse)
	if err != nil {
		if IsRecordsViolation(err) {
			_ = s.ResetWithError(network.StreamProtocolViolation)
		} else {
			_ = s.Reset()
		}
		return err
	}
	_ = s.Close()

	asked := make(map[peer.ID]bool, len(ids))
	for _, id := range ids {
		asked[id] = true
	}
	got := make([]*storedRecord, 0, len(envs))
	for i, raw := range envs {
		rec, err := VerifyPeerRecord(raw, asked)
		if err != nil {
			return fmt.Errorf("envelope %d of %d: %w", i, len(envs), err)
		}
		got = append(got, &storedRecord{id: rec.PeerID, seq: rec.Seq, raw: raw, addrs: recordNetAddrs(rec)})
	}
	for _, sr := range got {
		r.store.put(sr)
		// The newest record we hold may be another relayer's.
		if held := r.store.get(sr.id); held != nil {
			r.feedRecord(held, src)
		}
	}
	recordsLog.Debugw("peer records verified", "peer", from, "asked", len(ids), "got", len(got))
	return nil
}

// violation resets s (when there is one), then stops and bans its peer,
// which broke the peer-records protocol or relayed a forged record, and
// reports it as misbehaviour under a reason of its own.
func (r *recordsService) violation(s network.Stream, from peer.ID, err error) {
	if s != nil {
		_ = s.ResetWithError(network.StreamProtocolViolation)
	}
	reason := pex.ReasonRecordsWire
	if IsForgedRecord(err) {
		reason = pex.ReasonForgedRecord
	}
	n := r.n
	recordsLog.Infow("peer broke the peer-records protocol", "peer", from, "reason", reason, "err", err)
	banned := n.banForWire(from)
	if f := n.cfg.OnWireViolation; f != nil {
		f(from.String(), string(reason), banned)
	}
	n.StopPeerForError(from.String(), &pex.MisbehaviorError{PeerID: from.String(), Reason: reason, Cause: err})
}
