// Package pex is CometBFT's peer-exchange (PEX) reactor, transport-agnostic.
//
// It keeps the semantics of CometBFT v0.38's p2p/pex reactor (not those of
// v0.39+, which lost the guard of cometbft#4620) and runs over any network
// that implements Network: the libp2p face (package transport), the classic
// face over CometBFT's own switch, and the in-memory pextest.Hub. The
// address book is consumed through AddrBook (*addrbook.Book implements it).
// Time comes from an injected internal/clock.Clock and randomness from an
// injected *rand.Rand, so tests and simulations run on virtual time.
//
// # Wiring
//
// A face is constructed first, then the reactor:
//
//	r := pex.NewReactor(book, face, cfg, pex.WithObserver(metrics))
//	face.SetHandler(r) // the face calls r.AddPeer, r.RemovePeer, r.Receive
//	err := r.Start()
//
// The reactor calls Network methods (Send, StopPeerForError, Dial, …) from
// inside AddPeer and Receive, as upstream's reactor calls its switch, and
// never while holding its own lock; a face must not make those calls wait
// for the handler that is calling them. Dials run on their own goroutines
// (or on the executor given with WithExecutor).
//
// Receive takes a *tmp2p.PexRequest or *tmp2p.PexAddrs (a wrapping
// *tmp2p.Message is unwrapped). Faces refuse frames larger than MaxMsgSize
// before decoding. Misbehaviour reaches the face as a StopPeerForError whose
// error is a *MisbehaviorError (errors.Is with ErrMisbehavior and with the
// reason's sentinel); the Observer receives the same reason as a metric label.
//
// # The protocol contract with CometBFT peers
//
// PEX has two messages on channel 0 (on libp2p: protocol
// /p2p/cometbft/1.0.0/channel/0x00): an empty PexRequest and a PexAddrs
// carrying addresses. Nothing in the wire says how often one may ask; the
// rules below are enforced by every CometBFT node from its own constants,
// so the timing constants are a de-facto protocol contract. DefaultConfig
// carries upstream's values; changing EnsurePeersPeriod changes the pace
// this node asks at and the pace it tolerates, and a node that asks faster
// than a CometBFT peer tolerates is disconnected and banned for 24 h.
//
//   - At most one outstanding request per peer. We ask an outbound peer when
//     it connects (if the book needs addresses) and one peer per
//     ensure-peers period (30 s); a wake-up after a seed's answer never asks.
//   - A peer's requests must be at least EnsurePeersPeriod/3 (10 s) apart,
//     except the first two of a connection; otherwise: disconnect and ban.
//     pexp2p enforces this as a rate with a burst of two, so requests of a
//     steady peer that arrive bunched are not punished (docs/compat.md).
//   - An answer carries at most 250 addresses: GetSelection (23 % of the
//     book, at least 32, at most 250). A seed answers an inbound peer once
//     with GetSelectionWithBias(30) and then disconnects it gracefully.
//   - A PexAddrs nobody asked for is misbehaviour: disconnect and ban.
//   - Dials back off 2^attempts s plus up to 1 s of jitter; after 16 failed
//     attempts the next pick bans the address for 24 h (persistent peers
//     are never banned and their backoff may be capped).
//
// # What pexp2p changes
//
// Each change keeps the wire and the pace above; docs/compat.md lists them
// with the upstream issue each fixes.
//
//   - A request times out after RequestTimeout (default: one ensure-peers
//     period), so a silent peer can be asked again; late answers to
//     timed-out requests are still accepted (no ban).
//   - A request is recorded as outstanding only if Send accepted it.
//   - A PexAddrs with more than 250 entries is misbehaviour (upstream
//     accepts up to the 64000-byte frame, about 1000 entries).
//   - Any entry that no honest CometBFT book can hold (bad ID, IP or port,
//     unspecified, broadcast, RFC 3849) makes the whole message
//     misbehaviour; upstream silently skips most of them. Entries that are
//     valid but refused by our book (unroutable in strict mode, private,
//     banned) are not the sender's fault and are merely skipped.
//   - The dial-attempt table is bounded (MaxTrackedDials) and forgets
//     addresses the book no longer holds.
//   - The seed crawl also asks peers it is already connected to.
//   - The fast dial after a seed answers matches the seed by its
//     authenticated ID, not by comparing its self-reported address with the
//     configured string (which fails for 0.0.0.0 or host names).
//   - Seed host names are resolved once, at Start, through an injected
//     resolver; nothing on the receive path ever resolves DNS.
//   - With its outbound slots full a node keeps asking one peer per period
//     while the book needs addresses (RefreshWhenOutboundFull); upstream
//     stops, and books stall short of the network.
//   - A peer the face accepted beyond its inbound limit (PeerInfo.OverLimit)
//     gets one answer and is let go, so a newcomer to a full network is
//     never starved of addresses.
//   - The peer asked each period is drawn among those asked longest ago
//     rather than uniformly, which spreads requests over the peers.
//   - Stop waits for the reactor's goroutines and cancels dials in flight
//     (v0.38 does not; cometbft#652).
package pex
