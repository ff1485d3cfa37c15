package discovery

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// CPUSeconds is the process's user+system CPU time so far.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// ReadRSS is the process's resident set now, in bytes (0 when
// /proc is unavailable). Sampling it, rather than reading ru_maxrss,
// lets runs in one process each have their own peak.
func ReadRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

var errNoLoopback = errors.New("no lo line in /proc/net/dev")

// loopbackTxBytes is the loopback interface's transmitted-bytes counter
// of this network namespace.
func loopbackTxBytes() (int64, error) {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != "lo" {
			continue
		}
		f := strings.Fields(rest)
		// receive: bytes packets errs drop fifo frame compressed multicast;
		// transmit: bytes …
		if len(f) < 9 {
			break
		}
		return strconv.ParseInt(f[8], 10, 64)
	}
	return 0, errNoLoopback
}

// loadAvg is the 1-minute load average, 0 when unavailable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
