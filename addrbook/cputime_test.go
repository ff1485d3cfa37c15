package addrbook

import (
	"testing"
	"time"
)

// cpuMeter adds up process CPU time over the timed parts of a benchmark.
// On a shared machine wall time includes waiting for a core; CPU time
// does not, so its ratios between implementations move much less with
// the load.
type cpuMeter struct {
	total, from time.Duration
	ok          bool
}

func (m *cpuMeter) start() { m.from, m.ok = processCPU() }

func (m *cpuMeter) stop() {
	if now, ok := processCPU(); ok && m.ok {
		m.total += now - m.from
	}
}

// report adds cpu-ms/op, when the platform can tell.
func (m *cpuMeter) report(b *testing.B) {
	if m.ok && b.N > 0 {
		b.ReportMetric(float64(m.total)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
