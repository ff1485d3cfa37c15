package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// spawner starts every node process from one thread that stays locked
// and alive for the whole run. Pdeathsig (SIGKILL to the child when its
// parent dies) is tied to the thread that forked the child, not to the
// process; the namespace dialer ends threads on purpose, so a child
// forked from an ordinary Go thread could be killed when that thread is
// later reused and ended. From this thread, a node dies only with the
// runner, which is what makes a killed runner leave no live node behind.
type spawner struct {
	req  chan spawnReq
	done chan struct{}
	tid  int // the spawning thread, whose niceness the nodes inherit
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{req: make(chan spawnReq), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		s.tid = unix.Gettid()
		// Nodes run at the ordinary priority whatever the runner's.
		_ = unix.Setpriority(unix.PRIO_PROCESS, s.tid, 0)
		close(ready)
		for r := range s.req {
			r.err <- r.cmd.Start()
		}
		close(s.done)
	}()
	<-ready
	return s
}

// runnerNice is the niceness of the runner's threads other than the
// spawner's. The switch stands in for the kernel's netem, which works in
// softirq context ahead of every process; as a process among a hundred
// busy nodes it would be starved and turn CPU contention into network
// delay and loss that no manifest asked for. The nodes keep niceness 0.
const runnerNice = -10

// raisePriority sets runnerNice on every thread of the runner but the
// spawner's (Linux nice values are per thread, and new threads inherit
// their creator's, so calling it again now and then covers threads the
// Go runtime starts later).
func (s *spawner) raisePriority() { raisePriority(s.tid) }

// raisePriority sets runnerNice on every thread of this process but
// skip's.
func raisePriority(skip int) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil || tid == skip {
			continue
		}
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, runnerNice)
	}
}

func (s *spawner) start(c *exec.Cmd) error {
	ch := make(chan error, 1)
	s.req <- spawnReq{c, ch}
	return <-ch
}

func (s *spawner) close() {
	close(s.req)
	<-s.done
}

// proc is one node's process across its incarnations (a kill or restart
// starts a new one).
type proc struct {
	node *Node
	ns   string
	argv []string // the program and its arguments, run inside ns
	log  string   // stdout and stderr of every incarnation, appended

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current incarnation has been waited for
	starts  int
	cpuDone float64 // CPU-seconds of finished incarnations
	rssPeak float64 // MiB, over finished incarnations
	lastErr error
}

// launch starts a new incarnation inside the node's namespace.
func (p *proc) launch(sp *spawner) error {
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(lf, "\n=== e2e: start %d at %s: %s\n", p.starts+1, time.Now().Format(time.RFC3339Nano), strings.Join(p.argv, " "))
	// ip netns exec enters the namespace and execs the program, so the
	// PID we hold is the node's own (for signals, /proc and rusage).
	c := exec.Command("ip", append([]string{"netns", "exec", p.ns}, p.argv...)...)
	c.Stdout, c.Stderr = lf, lf
	c.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C on the terminal reaches the runner
		// only, which then stops the nodes in order.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	err = sp.start(c)
	_ = lf.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.node.Name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = c, exited
	p.starts++
	p.mu.Unlock()
	go func() {
		err := c.Wait()
		p.mu.Lock()
		if st := c.ProcessState; st != nil {
			if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
				p.cpuDone += tv(ru.Utime) + tv(ru.Stime)
				p.rssPeak = max(p.rssPeak, float64(ru.Maxrss)/1024)
			}
		}
		p.lastErr = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// current is the running incarnation's PID and exit channel (nil when
// none was started).
func (p *proc) current() (int, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0, nil
	}
	return p.cmd.Process.Pid, p.exited
}

// running reports whether the current incarnation has not exited.
func (p *proc) running() bool {
	_, ch := p.current()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

func (p *proc) signal(sig syscall.Signal) error {
	pid, ch := p.current()
	if ch == nil {
		return errors.New("not started")
	}
	select {
	case <-ch:
		return errors.New("not running")
	default:
	}
	return syscall.Kill(pid, sig)
}

// stop ends the current incarnation: sig first (SIGTERM lets a node save
// its book), SIGKILL once grace has passed. It returns once the process
// has been waited for, so its rusage is counted.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	pid, ch := p.current()
	if ch == nil {
		return
	}
	select {
	case <-ch:
		return
	default:
	}
	_ = syscall.Kill(pid, sig)
	// A stopped process cannot act on SIGTERM.
	_ = syscall.Kill(pid, syscall.SIGCONT)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-ch:
		return
	case <-t.C:
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-ch
}

// usage is the CPU-seconds of every incarnation so far and the peak RSS
// of any: finished ones from their rusage, the running one from /proc.
func (p *proc) usage() (cpu, rssMiB float64) {
	p.mu.Lock()
	cpu, rssMiB = p.cpuDone, p.rssPeak
	p.mu.Unlock()
	if pid, ch := p.current(); ch != nil {
		select {
		case <-ch:
		default:
			if c, err := procCPU(pid); err == nil {
				cpu += c
			}
			if r, err := procPeakRSS(pid); err == nil {
				rssMiB = max(rssMiB, r)
			}
		}
	}
	return cpu, rssMiB
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 100

// procCPU is utime+stime of a live process in seconds.
func procCPU(pid int) (float64, error) {
	f, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(u+s) / clockTick, nil
}

// procPeakRSS is VmHWM, the resident set's high-water mark, in MiB.
func procPeakRSS(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM")
}
