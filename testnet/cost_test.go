package testnet

import (
	"os"
	"os/exec"
	"testing"
)

// A process's CPU and resident memory are read from /proc; a process that
// is gone is skipped with an error, not a panic.
func TestProcessUsageSkipsAProcessThatExited(t *testing.T) {
	self, err := ProcessUsage(0)
	if err != nil || self.RSSBytes <= 0 || self.CPUSeconds <= 0 {
		t.Fatalf("self: %+v, %v", self, err)
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	pid := child.Process.Pid
	if _, err := ProcessUsage(pid); err != nil {
		t.Fatalf("running child: %v", err)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	gone, err := ProcessUsage(0, pid)
	if err == nil || gone.RSSBytes <= 0 {
		t.Fatalf("self and an exited child: %+v, %v (want self's usage and an error)", gone, err)
	}
}

// processCluster is a fake cluster with node processes.
type processCluster struct {
	fakeCluster
	pids []int
}

func (p *processCluster) PIDs() []int { return p.pids }

// A ProcessCluster's node processes are charged to it along with this
// process. The fake's "node" is this process itself, so the meter must
// read about twice this process's resident set.
func TestMeterChargesAProcessClusterItsProcesses(t *testing.T) {
	pc := &processCluster{pids: []int{os.Getpid()}}
	with := newMeter(pc).base.RSSBytes
	alone, err := ProcessUsage(0)
	if err != nil {
		t.Fatal(err)
	}
	if 2*with < 3*alone.RSSBytes {
		t.Fatalf("meter read %d bytes, this process alone %d", with, alone.RSSBytes)
	}
	if plain := newMeter(&fakeCluster{}).base.RSSBytes; 4*plain > 3*with {
		t.Fatalf("a cluster without processes was charged %d bytes, one with %d", plain, with)
	}
}
