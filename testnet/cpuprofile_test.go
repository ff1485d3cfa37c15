package testnet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// --cpuprofile writes one CPU profile per stack, named after it; a
// prefix in a directory that does not exist is a *SpecError naming the
// flag.
func TestRunWritesACPUProfilePerStack(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Nodes: 2, Seeds: 1, Period: 100 * time.Millisecond, Transport: "quic", MaxOutbound: 1, Duration: 5 * time.Second,
		CPUProfile: filepath.Join(dir, "prof")}
	f := &fakeCluster{samples: [][]NodeSample{{{Peers: 1, Known: 1}, {Peers: 1, Known: 1}}}}
	if _, err := Run(context.Background(), spec, []Cluster{f}, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "prof-fake.cpu.pprof")); err != nil || st.Size() == 0 {
		t.Fatalf("profile: %v", err)
	}
	spec.CPUProfile = filepath.Join(dir, "missing", "prof")
	_, err := Run(context.Background(), spec, []Cluster{&fakeCluster{samples: f.samples}}, nil)
	var se *SpecError
	if !errors.As(err, &se) || se.Field != "cpuprofile" {
		t.Fatalf("got %v, want a *SpecError naming cpuprofile", err)
	}
}
