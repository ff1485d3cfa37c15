package testnet

import "context"

// Cluster is one stack's N nodes as the measurement sees them. Every stack
// is measured by the same code (Measure), so the rows of a comparison are
// comparable by construction.
type Cluster interface {
	// Name labels the row ("pexp2p/libp2p-quic", "cometbft/classic-tcp").
	Name() string
	// Start builds and starts every node; discovery begins. It returns
	// once all are running. Building here rather than earlier charges
	// construction to this stack, and keeps one stack's listeners and
	// memory out of another's measurement.
	Start(ctx context.Context) error
	// Sample reads the current state of every measured node (seed-mode
	// seeds are left out: they let their peers go by design). It is
	// called from one goroutine, and may return nil before Start.
	Sample() []NodeSample
	// Traffic is what the nodes sent so far on the PEX channel.
	Traffic() Traffic
	// Stop stops every node and waits for them. It must be safe after a
	// failed or partial Start.
	Stop() error
}

// ProcessCluster is a Cluster whose nodes run, at least in part, in other
// OS processes (a process per node). Their CPU time and resident memory
// are added to this process's when the cluster is measured.
type ProcessCluster interface {
	Cluster
	// PIDs lists the running node processes. A process that has exited
	// is no longer counted, so its CPU time drops out of later samples:
	// such a cluster should keep its nodes running until Stop.
	PIDs() []int
}

// NodeSample is one node at one instant.
type NodeSample struct {
	Peers int // connected peers
	Known int // how many of the other N−1 nodes its book holds
}

// Traffic counts PEX messages and bytes (framed payload, without the
// transport's own overhead) sent by all nodes together.
type Traffic struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
	// Misbehavior counts peers stopped for a PEX violation, Bans the bans
	// issued: between honest nodes both should stay 0. A stack without a
	// misbehaviour hook (upstream's reactor) leaves them 0: "not
	// counted", not "none".
	Misbehavior int64 `json:"misbehavior"`
	Bans        int64 `json:"bans"`
	// Reasons counts Misbehavior by reason (the reactor's reason labels,
	// wire_* for the transport's own stops), so a run with bans says why.
	Reasons map[string]int64 `json:"misbehavior_reasons,omitempty"`
}
