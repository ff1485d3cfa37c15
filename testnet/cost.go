package testnet

import (
	"github.com/prometheus/procfs"
)

// Usage is CPU time and resident memory of a set of processes at one
// instant.
type Usage struct {
	CPUSeconds float64 // user + system, since each process started
	RSSBytes   int64
}

// ProcessUsage reads /proc/<pid>/stat of each process; pid 0 is this
// process. A process that cannot be read (it exited) is skipped, so that
// a cluster losing a node is still measured rather than failed; the error
// is the first such failure, for callers that need every process.
func ProcessUsage(pids ...int) (Usage, error) {
	var u Usage
	var first error
	for _, pid := range pids {
		var (
			p   procfs.Proc
			err error
		)
		if pid == 0 {
			p, err = procfs.Self()
		} else {
			p, err = procfs.NewProc(pid)
		}
		var st procfs.ProcStat
		if err == nil {
			st, err = p.Stat()
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		u.CPUSeconds += st.CPUTime()
		u.RSSBytes += int64(st.ResidentMemory())
	}
	return u, first
}

// meter follows one cluster's usage from a baseline: this process plus
// the cluster's node processes, if it has any. Sampling the resident set
// rather than reading ru_maxrss gives each stack of a run its own peak.
type meter struct {
	cl   Cluster
	base Usage
	peak int64
	last Usage
}

func newMeter(cl Cluster) *meter {
	m := &meter{cl: cl}
	m.base = m.read()
	m.peak = m.base.RSSBytes
	return m
}

func (m *meter) read() Usage {
	pids := []int{0}
	if pc, ok := m.cl.(ProcessCluster); ok {
		pids = append(pids, pc.PIDs()...)
	}
	u, _ := ProcessUsage(pids...)
	return u
}

// sample reads usage now and raises the peak.
func (m *meter) sample() {
	m.last = m.read()
	m.peak = max(m.peak, m.last.RSSBytes)
}

// spent is the CPU since the baseline and the peak resident-set growth,
// as of the last sample.
func (m *meter) spent() (cpuSeconds float64, peakGrowth int64) {
	return max(0, m.last.CPUSeconds-m.base.CPUSeconds), max(0, m.peak-m.base.RSSBytes)
}
