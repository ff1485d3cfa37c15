// Package testnet is pexp2p's one discovery harness: it starts N nodes of
// one stack on loopback, samples every node's peers and book until the
// network has converged, and reports how fast and at what cost. `pexp2p
// testnet` and the interop benchmarks both run it, so their figures come
// from the same code.
//
// A stack is a Cluster. Two are built in: pexp2p on libp2p hosts in this
// process (Libp2p), and upstream CometBFT's classic p2p.Switch with its
// own unmodified pex.Reactor (Classic). Other stacks plug in by
// implementing the five methods of Cluster; one whose nodes run as
// separate OS processes also implements ProcessCluster, so that their CPU
// and memory are charged to it.
//
// Convergence has two criteria, judged on every measured node (seed-mode
// seeds hang up on purpose and are not measured): connected to the peer
// target, min(max outbound, N−1 less the seed-mode seeds), and holding at
// least ⌈0.9·(N−1)⌉ of the other nodes in its book. The time, in rounds
// (ensure-peers periods) and seconds, at which every node first met each
// criterion is a Milestone, with the CPU and peak resident-set growth
// spent until then. Stacks run one after the other, so that process-wide
// CPU and memory can be attributed to one stack; per-node figures are the
// process totals divided by N.
package testnet
