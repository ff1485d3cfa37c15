// Package pexnode wires one pexp2p discovery node: an address book, the
// PEX reactor and the libp2p face (transport.Node), in the order their
// lifecycles need. It is the only place that assembles the three, so the
// command, the testnet harness, cometnode and the tests build nodes the
// same way.
//
// Start order matters: the host listens first, so that a port in use fails
// before the book file is touched (a failed start leaves the disk as it
// was); then the book loads, our own addresses go into it (so we never
// dial ourselves), and the reactor starts. Stop runs the other way: the
// reactor stops dialing, the host closes its connections, the book saves.
package pexnode
