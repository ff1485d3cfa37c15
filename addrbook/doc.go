// Package addrbook is CometBFT's peer address book (v0.38 semantics and
// constants), kept intact and made robust, with no networking of its own.
//
// # Threat model
//
// Every address in the book was told to us by someone, and peers lie. A
// PEX response is a list of (id, ip, port) that nobody has verified; the
// source of an inbound peer's address is that peer's own claim. An
// attacker who controls many addresses — a botnet, a cloud account, a
// /16 — wants to fill the book so that, after a restart or churn, most
// addresses we dial are theirs (an eclipse attack, Heilman et al. 2015),
// or to erase the good addresses we know. Less hostile but as real: the
// file on disk gets truncated or hand-edited, clocks jump, operators copy
// books between machines.
//
// # How the book answers
//
//   - Placement by network group, keyed and secret (hash.go, network.go).
//     A new address goes to one of 256 new buckets chosen by a keyed
//     HighwayHash of its /16 (IPv6 /32, Hurricane Electric /36, tunnels by
//     their embedded IPv4) and of its source's group: one source group
//     reaches at most 32 new buckets, one address group at most 4 old
//     buckets, and without the key an attacker cannot aim at a bucket.
//     The key is persisted (save.go), so a restart does not reshuffle the
//     book and stored placements stay meaningful.
//   - Bounded influence per ID (book.go). An ID sits in at most 4 new
//     buckets, a further one added with probability 1/(2n); the first
//     address learned for an ID is kept, and an address that has proved
//     itself (old) is never replaced by an announcement.
//   - Capacity is a hard 64 per bucket (buckets.go). A full new bucket
//     evicts a bad entry, else the one tried longest ago; promotion into a
//     full old bucket demotes the oldest old entry to a new bucket instead
//     of losing it, so good addresses survive a flood.
//   - Tried beats told (selection.go). Old addresses (we connected to them)
//     and new ones (we were told) are drawn with a caller-chosen bias,
//     weighted by the square root of each class's size, so a flood of new
//     addresses gains only sub-linearly on the addresses we trust.
//   - Bans hold (bans.go). A misbehaving ID is banned whether or not it is
//     in the book, bans only extend, survive restarts, and end exactly at
//     their expiry; a banned entry comes back with what we knew about it.
//   - Private IDs, and what private peers told us, are never stored or
//     gossiped; neither is our own ID (book.go).
//   - The file is input like any other (load.go, fastjson.go). Loading
//     validates every field, drops and counts what breaks an invariant,
//     moves an unparseable file aside instead of losing it, never panics
//     and never hangs; saving is atomic and durable (save.go,
//     atomicfile.go). The invariant checker (invariants.go) is run after
//     every step of the operation fuzzer and of the unit tests.
//   - Every operation is O(1) or O(selection) under one mutex, so a peer
//     cannot make the book slow; the data layout (knownaddress.go) keeps a
//     full book of 16k addresses at about 210 bytes per address.
//
// Opt-in defences beyond upstream, each off by default and measured in
// docs/eclipse.md: test-before-evict (evict.go), AS-map groups
// (asmap.go, groups.go), the anchors file (anchors.go), and addresses a
// peer signed for, with alternatives beside the primary address and a
// preference for verified entries (alternatives.go).
//
// Time and randomness are injected (Options.Now, Options.Rand/Seed): the
// same seed and the same calls give the same book, and tests run on
// virtual time. Differences from upstream are listed, with the checklist
// items and upstream issues they answer, in docs/compat.md.
package addrbook
