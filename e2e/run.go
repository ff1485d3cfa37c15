package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/pexp2p/pexp2p/internal/clock"
)

// Options are how a run is carried out, as opposed to what runs (the
// manifest).
type Options struct {
	Binaries Binaries
	// TempDir is the parent of the run's work directory (default
	// os.TempDir()).
	TempDir string
	// Keep leaves the work directory (homes and logs) in place.
	Keep bool
	// Progress receives one line per step; nil is silent.
	Progress io.Writer
}

// Grace periods: how long a node gets to save and exit on SIGTERM, and
// the bound of a scrape.
const (
	stopGrace     = 15 * time.Second
	scrapeTimeout = 3 * time.Second
	scrapeWorkers = 16
)

// run is one execution of a testnet.
type run struct {
	t     *Testnet
	o     Options
	net   *network
	work  string
	procs []*proc
	sp    *spawner
	start time.Time

	clients []*http.Client
	ids     map[string]identity
	sw      *lswitch
	seed    uint64 // of the links' loss and jitter

	mu      sync.Mutex
	samples [][]sample // per node
	events  []event
	booksAt map[int]int // perturbation index → entries in the file the node restarts with
	// banState is, per node, the bans of its finished incarnations and
	// the last raw counter read.
	banState [][2]int
	load     [2]float64
}

// loadAvg is the 1-minute load average, or 0 if unreadable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscan(string(b), &v)
	return v
}

// sample is one scrape of one node.
type sample struct {
	T  float64 // seconds since start
	OK bool
	R  Reading
	// Bans is the node's bans over all its incarnations so far.
	Bans int
}

// event is a perturbation as carried out.
type event struct {
	P     Perturbation
	Index int
	Start float64 // seconds since start
	End   float64 // when the node was running / linked / resumed again; 0 if never
	Err   string
}

func (r *run) logf(format string, a ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "[%6.1fs] %s\n", r.since(), fmt.Sprintf(format, a...))
	}
}

func (r *run) since() float64 {
	if r.start.IsZero() {
		return 0
	}
	return time.Since(r.start).Seconds()
}

// Run carries out t: it sweeps leftovers of earlier runs, builds the
// network, starts the nodes, perturbs and samples them for the manifest's
// duration, stops everything and removes all it created — also when ctx
// is cancelled (Ctrl-C) or a step fails. The result is nil only when the
// run could not start.
func Run(ctx context.Context, t *Testnet, o Options) (*Result, error) {
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		if err := checkHostAddrs(addrs); err != nil {
			return nil, err
		}
	}
	if o.Binaries.Pexp2p == "" {
		return nil, errors.New("no pexp2p binary given")
	}
	if t.HasClassic() && o.Binaries.Cometbft == "" {
		return nil, errors.New("the manifest has classic nodes; give the cometbft v0.38 binary (--cometbft)")
	}
	r := &run{t: t, o: o, booksAt: map[int]int{}, seed: uint64(time.Now().UnixNano())}
	if removed, err := Sweep(ctx); err != nil {
		r.logf("sweep of earlier runs: %v", err)
	} else if len(removed) > 0 {
		r.logf("removed %d leftovers of killed runs: %v", len(removed), removed)
	}

	runID := NewRunID()
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	r.work = filepath.Join(o.TempDir, prefix+"-"+runID)
	r.net = &network{names: names{run: runID}}
	tick, err := procStartTick(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("reading our own start time: %w", err)
	}
	// The state file goes first: whatever exists after it can be found
	// by a later sweep if this runner is killed.
	if err := writeState(runID, runState{PID: os.Getpid(), StartTick: tick, WorkDir: r.work}); err != nil {
		return nil, fmt.Errorf("writing run state: %w", err)
	}
	defer r.cleanup()
	if err := os.MkdirAll(r.work, 0o700); err != nil {
		return nil, err
	}
	r.logf("run %s: %d nodes over %d groups, work directory %s", runID, len(t.Nodes), t.Groups, r.work)

	ids, chainID, err := prepareHomes(ctx, t, o.Binaries, r.work)
	if err != nil {
		return nil, err
	}
	r.ids = ids
	for _, n := range t.Nodes {
		if n.Mode == ModeClassic {
			_, cseeds := seedLists(t, n, ids)
			if err := configureClassic(homeOf(r.work, n), n, cseeds); err != nil {
				return nil, err
			}
		}
	}
	// The spawner first, then the priority, then the switch, whose
	// threads inherit it.
	r.sp = newSpawner()
	r.sp.raisePriority()
	r.sw = newSwitch(len(t.Nodes))
	if err := r.net.createBridge(ctx); err != nil {
		return nil, err
	}
	// A few nodes at a time: each is a handful of ip commands, and a
	// hundred nodes one by one take minutes on a loaded machine.
	if err := forEach(ctx, t.Nodes, 4, func(n *Node) error {
		if err := r.net.createNode(ctx, n.Index, n.IP); err != nil {
			return err
		}
		if err := r.sw.add(r.net.bridgeNS(), n.Index, r.net.bridgePort(n.Index), n.Link, r.seed); err != nil {
			return fmt.Errorf("switch port of %s: %w", n.Name, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	r.logf("network ready: %d namespaces", len(t.Nodes)+1)

	r.sp.raisePriority()
	r.samples = make([][]sample, len(t.Nodes))
	for _, n := range t.Nodes {
		r.procs = append(r.procs, &proc{node: n, ns: r.net.nodeNS(n.Index), argv: argv(t, n, ids, o.Binaries, r.work, chainID), log: filepath.Join(homeOf(r.work, n), "node.log")})
		r.clients = append(r.clients, nsClient(r.net.nodeNS(n.Index), scrapeTimeout))
	}
	// Seeds and bridges first, so the others' first dial finds them.
	r.load[0] = loadAvg()
	r.start = time.Now()
	for pass := 0; pass < 2; pass++ {
		for _, p := range r.procs {
			first := p.node.Mode == ModeSeed || p.node.Mode == ModeBridge
			if first != (pass == 0) {
				continue
			}
			if err := p.launch(r.sp); err != nil {
				return nil, err
			}
		}
	}
	r.logf("started %d processes", len(r.procs))

	r.loop(ctx)
	r.load[1] = loadAvg()
	interrupted := ctx.Err() != nil

	// Link counters before anything is torn down; books after every node
	// has saved on SIGTERM.
	linkBytes, lerr := r.net.linkBytes(context.Background())
	if lerr != nil {
		r.logf("link counters: %v", lerr)
	}
	r.stopAll()
	res := r.result(linkBytes)
	res.LoadAvg, res.Cores = r.load, runtime.NumCPU()
	if interrupted {
		return res, fmt.Errorf("interrupted after %.1fs: %w", res.WallSeconds, ctx.Err())
	}
	return res, nil
}

// forEach runs fn on every node, workers at a time, and returns the
// errors; it stops starting new work once ctx ends or fn failed.
func forEach(ctx context.Context, nodes []*Node, workers int, fn func(*Node) error) error {
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range nodes {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(n); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// loop samples every node and carries out the perturbations until the
// manifest's duration has passed or ctx ends.
func (r *run) loop(ctx context.Context) {
	deadline := r.start.Add(r.t.Duration)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range r.t.Perturbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.perturb(ctx, i, p)
		}()
	}
	tk := time.NewTicker(r.t.Sample)
	defer tk.Stop()
	r.sampleAll(ctx)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tk.C:
			r.sp.raisePriority()
			r.sampleAll(ctx)
			r.progress()
		}
	}
	wg.Wait()
}

// progress prints one line about every ten samples.
func (r *run) progress() {
	r.mu.Lock()
	n := len(r.samples[0])
	r.mu.Unlock()
	if n%10 != 0 {
		return
	}
	atPeers, atBooks, measured := 0, 0, 0
	for _, node := range r.t.Nodes {
		if !node.Measured() {
			continue
		}
		measured++
		s := r.last(node.Index)
		if s.OK && s.R.Peers >= r.t.PeerTargetOf(node) {
			atPeers++
		}
		if s.OK && s.R.Book >= r.t.BookTargetOf(node) {
			atBooks++
		}
	}
	r.logf("%d/%d nodes at the peer target, %d/%d at the book target", atPeers, measured, atBooks, measured)
}

func (r *run) last(i int) sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.samples[i]; len(s) > 0 {
		return s[len(s)-1]
	}
	return sample{}
}

// sampleAll scrapes every node once, a bounded number at a time; each
// scrape is bounded by scrapeTimeout, so one round is too.
func (r *run) sampleAll(ctx context.Context) {
	t := r.since()
	sem := make(chan struct{}, scrapeWorkers)
	var wg sync.WaitGroup
	for i, n := range r.t.Nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rd, ok := r.scrape(ctx, n, i)
			r.mu.Lock()
			defer r.mu.Unlock()
			s := sample{T: t, OK: ok, R: rd}
			prev := r.samples[i]
			bans := 0
			if len(prev) > 0 {
				bans = prev[len(prev)-1].Bans
			}
			if ok {
				// Counters restart with each incarnation; carry the
				// earlier ones' total forward.
				base, raw := r.banBase(i)
				if rd.Bans < raw {
					base += raw
				}
				r.setBanBase(i, base, rd.Bans)
				bans = base + rd.Bans
			}
			s.Bans = bans
			r.samples[i] = append(prev, s)
		}()
	}
	wg.Wait()
}

func (r *run) scrape(ctx context.Context, n *Node, i int) (Reading, bool) {
	if !r.procs[i].running() {
		return Reading{}, false
	}
	addr, prefix := rpcAddr, ""
	switch {
	case n.Mode == ModeClassic:
		addr = promAddr
	case Chain(n.Mode):
		addr, prefix = promAddr, "pexp2p_"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return Reading{}, false
	}
	resp, err := r.clients[i].Do(req)
	if err != nil {
		return Reading{}, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return Reading{}, false
	}
	return parseMetrics(b, prefix), true
}

func (r *run) banBase(i int) (int, int) {
	if r.banState == nil {
		r.banState = make([][2]int, len(r.t.Nodes))
	}
	return r.banState[i][0], r.banState[i][1]
}

func (r *run) setBanBase(i, base, raw int) { r.banState[i] = [2]int{base, raw} }

// perturb carries out one perturbation at its time and records when the
// node was back.
func (r *run) perturb(ctx context.Context, idx int, p Perturbation) {
	if !sleepCtx(ctx, time.Until(r.start.Add(p.At))) {
		return
	}
	n := r.t.Node(p.Node)
	pr := r.procs[n.Index]
	ev := event{P: p, Index: idx, Start: r.since()}
	r.logf("%s %s (for %v)", p.Kind, p.Node, p.For)
	var err error
	switch p.Kind {
	case KindKill, KindRestart:
		sig := syscall.SIGKILL
		if p.Kind == KindRestart {
			sig = syscall.SIGTERM
		}
		pr.stop(sig, stopGrace)
		// What the node will start with: its saved file.
		if ids, berr := bookIDs(bookFile(r.work, n)); berr == nil {
			r.mu.Lock()
			r.booksAt[idx] = len(ids)
			r.mu.Unlock()
		} else {
			err = berr
		}
		if !sleepCtx(ctx, p.For) {
			break
		}
		if lerr := pr.launch(r.sp); lerr != nil {
			err = lerr
			break
		}
		ev.End = r.since()
	case KindDisconnect:
		if err = r.net.setLink(ctx, n.Index, false); err != nil {
			break
		}
		sleepCtx(ctx, p.For)
		// Up again even when the run is ending, so the node can say
		// goodbye to its peers.
		if err = r.net.setLink(context.Background(), n.Index, true); err == nil && ctx.Err() == nil {
			ev.End = r.since()
		}
	case KindPause:
		if err = pr.signal(syscall.SIGSTOP); err != nil {
			break
		}
		sleepCtx(ctx, p.For)
		if err = pr.signal(syscall.SIGCONT); err == nil && ctx.Err() == nil {
			ev.End = r.since()
		}
	}
	if err != nil {
		ev.Err = err.Error()
		r.logf("%s %s: %v", p.Kind, p.Node, err)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// sleepCtx sleeps d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	return clock.Sleep(ctx, clock.System, d) == nil
}

// stopAll stops every node gracefully, all at once, each bounded by
// stopGrace.
func (r *run) stopAll() {
	var wg sync.WaitGroup
	for _, p := range r.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(syscall.SIGTERM, stopGrace)
		}()
	}
	wg.Wait()
}

// cleanup removes everything the run created. It runs on every return
// path of Run, with its own bounded context: a cancelled run must still
// be cleaned.
func (r *run) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, p := range r.procs {
		p.stop(syscall.SIGKILL, time.Second)
	}
	if r.sp != nil {
		r.sp.close()
	}
	for _, c := range r.clients {
		c.CloseIdleConnections()
	}
	if r.sw != nil {
		r.sw.close()
	}
	if err := r.net.destroy(ctx); err != nil {
		r.logf("cleanup: %v", err)
	}
	if !r.o.Keep {
		if err := os.RemoveAll(r.work); err != nil {
			r.logf("cleanup: %v", err)
		}
	} else {
		r.logf("kept %s", r.work)
	}
	removeState(r.net.run)
}
