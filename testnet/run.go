package testnet

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
)

// Clusters are the stacks spec asks for, in the order they run: pexp2p on
// libp2p (adjusted by hooks), then with CompareClassic upstream's classic
// stack, then with CompareDHT the same hosts running go-libp2p-kad-dht.
func (s Spec) Clusters(hooks Libp2pHooks) []Cluster {
	cl := []Cluster{Libp2p(s, hooks)}
	if s.CompareClassic {
		cl = append(cl, Classic(s))
	}
	if s.CompareDHT {
		cl = append(cl, KadDHT(s))
	}
	return cl
}

// Reporter shows one stack's run as it goes: it returns the Progress to
// feed and a function that ends the display.
type Reporter func(stack string) (Progress, func())

// Run validates spec and measures every cluster, one after the other so
// that CPU and memory can be attributed to one stack. report may be nil.
func Run(ctx context.Context, spec Spec, clusters []Cluster, report Reporter) ([]StackResult, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	c := spec.Criteria()
	var profErr error
	if spec.MemProfile != "" {
		// The default rate samples one allocation per 512 KiB, too coarse
		// to tell apart what fifty hosts each hold.
		runtime.MemProfileRate = 16 << 10
		c.HeapProfile = func(stack string) {
			if err := WriteHeapProfile(spec.MemProfile, stack); err != nil && profErr == nil {
				profErr = err
			}
		}
	}
	var results []StackResult
	var err, cpuErr error
	for _, cl := range clusters {
		var progress Progress
		done := func() {}
		if report != nil {
			progress, done = report(cl.Name())
		}
		cc := c
		var stopCPU func() error
		if spec.CPUProfile != "" {
			if stopCPU, err = startCPUProfile(spec.CPUProfile, cl.Name()); err != nil {
				done()
				return results, &SpecError{Field: "cpuprofile", Value: spec.CPUProfile, Err: err}
			}
			// The profile covers the work until convergence, as the
			// milestones' CPU figures do, not the stopping of the nodes.
			heap := cc.HeapProfile
			cc.HeapProfile = func(stack string) {
				if stopCPU != nil {
					if err := stopCPU(); err != nil && cpuErr == nil {
						cpuErr = err
					}
					stopCPU = nil
				}
				if heap != nil {
					heap(stack)
				}
			}
		}
		res, err := Measure(ctx, cl, cc, progress)
		if stopCPU != nil {
			_ = stopCPU()
		}
		done()
		if err != nil {
			return results, fmt.Errorf("%s: %w", cl.Name(), err)
		}
		results = append(results, res)
	}
	if profErr != nil {
		return results, &SpecError{Field: "memprofile", Value: spec.MemProfile, Err: profErr}
	}
	if cpuErr != nil {
		return results, &SpecError{Field: "cpuprofile", Value: spec.CPUProfile, Err: cpuErr}
	}
	return results, nil
}

// WriteHeapProfile writes the live heap (after a GC, so it shows what is
// held rather than garbage) to prefix-<stack>.pprof, the goroutines to
// prefix-<stack>.goroutine.pprof (their stacks are resident memory the
// heap profile does not show) and a MemStats summary to
// prefix-<stack>.memstats.txt, the stack's name made file-safe.
func WriteHeapProfile(prefix, stack string) error {
	base := prefix + "-" + strings.NewReplacer("/", "-", " ", "_").Replace(stack)
	runtime.GC()
	for _, p := range []struct{ profile, suffix string }{{"heap", ".pprof"}, {"goroutine", ".goroutine.pprof"}} {
		f, err := os.Create(base + p.suffix)
		if err != nil {
			return err
		}
		if err := pprof.Lookup(p.profile).WriteTo(f, 0); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	// What the resident set is made of: live heap, heap spans in use
	// (live + garbage not yet swept), goroutine stacks, and what the
	// runtime holds from the OS.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	u, _ := ProcessUsage(0)
	summary := fmt.Sprintf("goroutines %d\nheap_alloc %d\nheap_inuse %d\nheap_idle %d\nheap_released %d\nstack_inuse %d\nsys %d\nnext_gc %d\nnum_gc %d\nrss %d\n",
		runtime.NumGoroutine(), m.HeapAlloc, m.HeapInuse, m.HeapIdle, m.HeapReleased, m.StackInuse, m.Sys, m.NextGC, m.NumGC, u.RSSBytes)
	return os.WriteFile(base+".memstats.txt", []byte(summary), 0o644)
}

// startCPUProfile starts the CPU profile of one stack's run into
// prefix-<stack>.cpu.pprof; the returned function stops it and closes the
// file.
func startCPUProfile(prefix, stack string) (func() error, error) {
	f, err := os.Create(prefix + "-" + strings.NewReplacer("/", "-", " ", "_").Replace(stack) + ".cpu.pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
