package main

import (
	"context"
	"errors"

	"github.com/pexp2p/pexp2p/interop/discovery"
)

// classicCluster measures upstream CometBFT's classic stack (p2p.Switch +
// its own unmodified pex.Reactor, built by interop/discovery) with the
// same Measure code as the libp2p testnet, so the two rows compare like
// with like: same N, one seed (node 0), same seed mode, same period and
// peer limits.
type classicCluster struct {
	spec TestnetSpec
	cl   *discovery.ClassicCluster
}

func newClassicCluster(spec TestnetSpec) *classicCluster { return &classicCluster{spec: spec} }

func (c *classicCluster) Name() string { return "cometbft/classic-tcp" }

// Start builds the nodes here rather than at construction: the stacks
// run one after the other, and building earlier would hold the classic
// nodes' listeners and memory during the libp2p measurement. Building
// inside Start also charges construction to this row, as the libp2p
// cluster's is charged to its own.
func (c *classicCluster) Start(ctx context.Context) error {
	cl, err := discovery.NewClassicCluster(discovery.Config{
		Nodes:       c.spec.Nodes,
		Period:      c.spec.Period,
		SeedMode:    c.spec.SeedMode,
		MaxOutbound: c.spec.MaxOutbound,
		MaxInbound:  c.spec.MaxInbound,
		Duration:    max(c.spec.Duration, c.spec.Period),
	})
	if err != nil {
		return err
	}
	c.cl = cl
	return cl.Start(ctx)
}

func (c *classicCluster) Sample() []NodeSample {
	if c.cl == nil {
		return nil
	}
	s := c.cl.Sample()
	out := make([]NodeSample, len(s))
	for i, x := range s {
		out[i] = NodeSample{Peers: x.Peers, Known: x.Known}
	}
	return out
}

// Traffic counts what upstream's reactors received (the sum over nodes of
// what was received is what was sent, less messages in flight at the
// end). Upstream's reactor has no misbehaviour hook, so those counts stay
// 0 for this row: "not counted", not "none".
func (c *classicCluster) Traffic() Traffic {
	if c.cl == nil {
		return Traffic{}
	}
	m, b := c.cl.Traffic()
	return Traffic{Msgs: m, Bytes: b}
}

func (c *classicCluster) Stop() error {
	if c.cl == nil {
		return nil
	}
	err := c.cl.Stop()
	c.cl = nil
	return errors.Join(err)
}
