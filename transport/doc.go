// Package transport is pexp2p's libp2p face: CometBFT's PEX channel (0)
// carried as a libp2p stream protocol, with the address book's NetAddress
// values translated to and from multiaddrs. It implements pex.Network on a
// go-libp2p host, so the unchanged PEX reactor and bucketed address book
// run over QUIC and TCP.
//
// # Identity
//
// A node has one ed25519 key, stored in CometBFT's node_key.json format
// ({"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"<base64>"}},
// mode 0600, byte-identical to what upstream writes). LoadOrGenNodeKey
// never overwrites an existing file: the new key is written to a
// temporary file and hard-linked into place, which fails if the name
// exists. The same key is the libp2p identity. Two IDs follow from it:
// the CometBFT node ID (hex of SHA-256(pubkey)[:20]) and the peer ID
// (identity multihash of the key, "12D3KooW…"). A peer ID yields the
// CometBFT ID because the key is inside it (CometIDFromPeerID); the
// reverse needs the public key (PeerIDFromCometID checks it). The book's
// ID rule on this face is PeerIDs: canonical base58 peer IDs, with 40-hex
// CometBFT IDs refused by name.
//
// # Wire
//
// Protocol ID /p2p/cometbft/1.0.0/channel/0x00 (upstream lp2p's naming, so
// an upstream lp2p node with a reactor on channel 0 interoperates). One
// message per stream: uvarint(length) ‖ protobuf tendermint.p2p.Message
// (oneof pex_request = 1, pex_addrs = 2), then the writer closes the
// stream. The reader:
//
//   - refuses a length above MaxMsgSize (64000, upstream's PEX limit)
//     before allocating, reading the prefix byte by byte;
//   - applies a deadline (DefaultStreamTimeout, 10 s);
//   - resets the stream with the protocol-violation code on garbage, a
//     zero-length or empty message, an unknown oneof member (gogo skips
//     unknown fields, so it shows as an empty oneof), or any byte after
//     the message (a second message);
//   - keeps a complete, valid message whose writer is slow to close (a
//     timeout after the message is not a violation; a second message
//     shows as data, not as a timeout). The node's handler hands the
//     message to the reactor as soon as it is complete and checks the
//     end of the stream afterwards: waiting for the close first would let
//     a stalled connection release several requests at once, which the
//     reactor's spacing rule would punish as a flood.
//
// A stream that times out before a complete message is reset without
// blame, but MaxStalledStreams of them from one peer within StallWindow
// (3 in 10 min) are treated as a slowloris: the peer is stopped and banned
// as for a wire violation (ErrStalledStreams).
//
// Every error is a *WireError wrapping ErrWire and one kind
// (ErrMessageTooLarge, ErrMalformed, ErrEmptyMessage, ErrUnknownMessage,
// ErrSecondMessage, ErrTruncated, ErrStreamIO, …); IsProtocolViolation
// separates hostile input from timeouts and network failures. A peer that
// violates the wire protocol is disconnected and banned in the book for
// WireBanTime (24 h, upstream's defaultBanTime). In PexAddrs on this face
// NetAddress.id is the peer ID text, ip a literal IP and port the node's
// libp2p port (RFC 108's choice). The inbound handler follows go-libp2p's
// ping handler: it attaches the stream to the "pexp2p.pex" resource
// manager service, reserves MaxMsgSize of memory, bounds the stream in
// time and resets it on any error.
//
// # NodeInfo
//
// libp2p has no CometBFT handshake, so after identify both sides open a
// /p2p/cometbft/1.0.0/nodeinfo stream, write their
// tendermint.p2p.DefaultNodeInfo (uvarint-framed, at most 10240 bytes,
// upstream's limit), half-close, and read the other's answer. The peer's
// DefaultNodeID must be its authenticated peer ID; a different Network
// (chain ID) drops the peer and it is not dialed again while the node
// runs. A peer whose identify protocols lack nodeinfo (upstream lp2p) is
// accepted unless Config.StrictNodeInfo (a peer whose identify failed is
// refused either way, as its protocols are unknown), with its listen
// address taken
// from identify's listen addresses (the one on the connection's IP if
// any). The remote address of a connection is never used as the
// advertised address: QUIC dials leave from a wildcard socket.
//
// # NetAddress ⇄ multiaddr
//
// {id, ip, port} becomes /ip4|ip6/<ip>/udp/<port>/quic-v1/p2p/<id> and
// /ip4|ip6/<ip>/tcp/<port>/p2p/<id>: one port number for both transports,
// as kubo and lp2p do; a node whose listen ports are 0 gets one port free
// for both TCP and UDP. A multiaddr becomes a NetAddress only if it is
// exactly /ip4|ip6/<ip>/tcp/<port> or /ip4|ip6/<ip>/udp/<port>/quic-v1,
// optionally /p2p/<id>. Every other shape is a *MultiaddrError naming
// its kind: ErrRelayAddr (p2p-circuit; manet.DialArgs would return the
// relay's address), ErrDNSAddr (/dns, /dns4, /dns6, /dnsaddr: resolved
// when dialing or at start, never stored), ErrUnsupportedAddr (ws, wss,
// tls, sni, webtransport, webrtc, certhash, draft-29 quic, http, other
// shapes), ErrIPv6Zone, ErrPeerMismatch (/p2p names another peer than
// expected), ErrPortZero, ErrUnspecifiedIP, ErrMappedIPv6 (write it as
// /ip4 so that translation round-trips), ErrNoPeerID. Configured peers
// (ParseConfigPeer) may be a full multiaddr ending in /p2p/<id> — IP,
// /dns* or /dnsaddr based — or peerID@host:port with an IP or a DNS name
// (both QUIC and TCP are tried). ReactorSeeds turns seeds into the
// reactor's id@host:port strings, resolving /dnsaddr at start; the node
// keeps the configured multiaddrs and adds them to every dial of that
// peer, so libp2p resolves DNS names at dial time.
//
// # Host and gating
//
// The host listens on QUIC v1 and TCP only (no WebRTC/WebTransport/relay),
// with go-libp2p metrics off. Decisions:
//
//   - Peer limits are CometBFT's (max_num_inbound_peers,
//     max_num_outbound_peers), not libp2p's: the connection manager is
//     the null one, so libp2p never trims peers on its own watermarks.
//     Persistent and unconditional peers are exempt. Up to
//     Config.OverLimitSlots inbound peers beyond the limit are accepted
//     as pex.PeerInfo.OverLimit visitors that get one answer and leave,
//     so a newcomer to a full network is not starved of addresses.
//     Unconditional peers are not counted in NumPeers.
//   - The resource manager keeps go-libp2p's autoscaled limits, with
//     system and transient connection limits raised to cover the peer
//     limits (four connections per peer while duplicates settle). With
//     allow_duplicate_ip its per-IP connection limit (8 per IPv4 /32) and
//     rate limit (0.2/s, burst 16) are raised to the node's peer budget,
//     because many honest peers then share one IP; without it the
//     defaults stay, since CometBFT keeps one peer per IP anyway.
//   - The connection gater enforces the book's bans (Config.Bans,
//     usually the *addrbook.Book): by peer ID when dialing and after the
//     handshake, and by IP when accepting and dialing — except for
//     loopback (in-process testnets and QUIC dials share 127.0.0.1) and
//     when allow_duplicate_ip is on (an IP ban would hit honest
//     neighbours). A peer stopped for an error is also blocked locally
//     for StopBlockTime, closing the window before the reactor's book
//     ban lands. A sweep every BanSweepPeriod closes existing
//     connections of peers banned since they connected.
//   - Without allow_duplicate_ip a second peer from the same (non-
//     loopback) IP is refused, and IsDialingOrConnected reports such an
//     IP as taken, as upstream's switch does.
//   - A peer reaches the reactor (Handler.AddPeer) only after identify
//     and the NodeInfo exchange, with its real direction (upstream lp2p
//     hard-wires outbound); several connections to one peer are one peer;
//     RemovePeer follows the last connection's close. A message that
//     arrives before our setup of its sender has finished waits for it
//     instead of being lost (upstream lp2p's race). A PexRequest repeated
//     while held, or queued while an earlier one has not left, is sent or
//     delivered once: bunched requests would look like a flood and
//     get an honest peer banned.
//   - Send never blocks the reactor: each message goes out on its own
//     stream from a goroutine; StopPeerGracefully waits (bounded by the
//     stream timeout) for those in flight before closing.
//   - Persistent peers are redialed every PersistentDialPeriod while
//     disconnected. Dial clears libp2p's own dial backoff for the peer,
//     because the reactor paces retries itself; a dial that meets a
//     different key returns pex.ErrAuthFailure.
//
// # Signed peer records and several addresses (opt-in)
//
// With Config.SignedRecords the node keeps each peer's own signed peer
// record from identify and serves the ones it holds on
// /pexp2p/peer-records/1.0.0 (PeerRecordsProtocolID, never channel 0).
// After a PexAddrs from a peer whose identify lists that protocol, it
// asks the peer for the records of the IDs it sent: one request of up to
// 250 binary peer IDs, one answer of up to 250 envelopes (2 KiB each,
// 128 KiB in all), each entry uvarint-length-prefixed inside one
// uvarint-framed message. A record that verifies (peer-record domain and
// payload type, signed by the key of the ID it names, an ID that was
// asked for) goes to Config.Addresses.AddVerified. One that does not, or
// a message that breaks the framing, gets the sender stopped and banned
// like a channel-0 violation, with pex.ReasonForgedRecord or
// pex.ReasonRecordsWire. Requests are rate-limited per peer and answered
// by a handler shaped like go-libp2p's ping handler (service
// "pexp2p.peer-records", memory reserved, deadline, reset on error).
// With Config.DialAlternatives, identify's listen addresses go to
// AddAlternatives and Dial offers the swarm every address the book holds
// for the peer, ranked by dialrank.go. Both are off by default; then no
// handler is registered. docs/eclipse.md has the threat model.
//
// go-libp2p logs through slog; RouteLibp2pLogs (called by NewNode) sends
// that into go-log, so GOLOG_LOG_LEVEL governs both. This package logs
// as "transport".
package transport
