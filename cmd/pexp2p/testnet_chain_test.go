package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// `pexp2p testnet --cometbft` starts real CometBFT node processes that
// know only a seed; with PEX they peer and make blocks, and the JSON
// carries every node and both milestones. With --pex=false (upstream's
// behaviour) the same chain stays at 0 peers and height 0.
func TestTestnetCometBFTChainPeersAndCommitsOnlyWithPEX(t *testing.T) {
	bin := buildBinary(t)
	run := func(extra ...string) chainJSON {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		args := append([]string{"testnet", "--cometbft", "--validators", "2", "--full-nodes", "1", "--height", "3", "--json"}, extra...)
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			t.Fatalf("pexp2p %v: %v\n%s", args, err, out)
		}
		var r chainJSON
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("JSON: %v\n%s", err, out)
		}
		return r
	}
	r := run("--duration", "90s")
	if !r.Peered || !r.AtHeight || r.SecondsToPeered <= 0 || r.SecondsToHeight < r.SecondsToPeered {
		t.Fatalf("chain did not converge: %+v", r)
	}
	if len(r.Nodes) != 4 {
		t.Fatalf("%d nodes in the JSON, want seed + 3", len(r.Nodes))
	}
	for _, n := range r.Nodes {
		if n.Name == "" || n.Role == "" {
			t.Fatalf("node without name or role: %+v", n)
		}
		if n.Role != "seed" && (n.Peers < 2 || n.Height < 3 || n.Book < 2) {
			t.Fatalf("%s not peered/synced/with a book: %+v", n.Name, n)
		}
	}
	ctrl := run("--pex=false", "--duration", "8s")
	if ctrl.Peered || ctrl.AtHeight {
		t.Fatalf("control converged without PEX: %+v", ctrl)
	}
	for _, n := range ctrl.Nodes {
		if n.Peers != 0 || n.Height != 0 {
			t.Fatalf("%s has %d peers, height %d without PEX", n.Name, n.Peers, n.Height)
		}
	}
}

type chainJSON struct {
	Peered          bool    `json:"peered"`
	AtHeight        bool    `json:"at_height"`
	SecondsToPeered float64 `json:"seconds_to_peered"`
	SecondsToHeight float64 `json:"seconds_to_height"`
	Nodes           []struct {
		Name   string `json:"name"`
		Role   string `json:"role"`
		Height int64  `json:"height"`
		Peers  int    `json:"peers"`
		Book   int    `json:"book"`
	} `json:"nodes"`
}
