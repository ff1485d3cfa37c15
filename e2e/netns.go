package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace and state entry a run
// creates, followed by the run ID; the sweep at start finds leftovers of
// a killed runner by it.
const Prefix = "pxe2e"

// prefix is Prefix; the package's own tests use another, so that their
// sweeps can never touch a real run's namespaces.
var prefix = Prefix

// StateDir holds one file per live run: its runner's PID and start time
// and its work directory. /run is a tmpfs, so a reboot clears it together
// with the namespaces it describes.
var StateDir = "/run/" + Prefix

const cmdTimeout = 20 * time.Second

// NewRunID is 8 random hex digits.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// names derives every name of one run from its ID.
type names struct{ run string }

func (n names) bridgeNS() string        { return fmt.Sprintf("%s-%s-br", prefix, n.run) }
func (n names) nodeNS(i int) string     { return fmt.Sprintf("%s-%s-n%d", prefix, n.run, i) }
func (n names) bridgePort(i int) string { return "v" + strconv.Itoa(i) }

const nodeDev = "eth0"

// runCmd runs one ip or tc command, bounded in time; the error carries
// the command line and its stderr.
func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ErrPrivilege means the runner cannot create namespaces here.
var ErrPrivilege = errors.New("e2e needs root and the ip and tc commands (iproute2)")

// CheckPrivileges fails clearly without root, ip or tc.
func CheckPrivileges() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: running as uid %d; network namespaces and veth links need root (try sudo)", ErrPrivilege, os.Geteuid())
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %q not found in PATH (install iproute2)", ErrPrivilege, tool)
		}
	}
	return nil
}

// network is the namespaces and links of one run.
type network struct {
	names
	mu      sync.Mutex
	created []string // namespaces, in creation order
}

// createBridge makes the bridge namespace. It holds the bridge-side ends
// of the veths and nothing else — no address, no route, no link to the
// host — and the switch (switch.go) forwards frames between those ends
// only, so a frame can only travel between the run's own nodes.
func (w *network) createBridge(ctx context.Context) error {
	return w.addNS(ctx, w.bridgeNS())
}

func (w *network) addNS(ctx context.Context, ns string) error {
	if _, err := runCmd(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	w.mu.Lock()
	w.created = append(w.created, ns)
	w.mu.Unlock()
	return nil
}

// createNode makes node i's namespace with loopback, and a veth whose one
// end (eth0, the node's address on the /10, no gateway) is in the node's
// namespace and whose other end is a port of the bridge. The veth is
// created from inside the node's namespace and its peer placed straight
// into the bridge's, so neither end ever exists in the host's namespace.
func (w *network) createNode(ctx context.Context, i int, ip string) error {
	ns, br, port := w.nodeNS(i), w.bridgeNS(), w.bridgePort(i)
	if err := w.addNS(ctx, ns); err != nil {
		return err
	}
	cmds := [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", nodeDev, "type", "veth", "peer", "name", port, "netns", br},
		{"-n", ns, "addr", "add", ip + "/" + strconv.Itoa(NetBits), "dev", nodeDev},
		{"-n", ns, "link", "set", nodeDev, "up"},
		{"-n", br, "link", "set", port, "up"},
	}
	for _, c := range cmds {
		if _, err := runCmd(ctx, "ip", c...); err != nil {
			return err
		}
	}
	// Complete frames on the node's side too (see disableOffloads).
	return inNS(ns, func() error { return disableOffloads(nodeDev) })
}

// setLink takes node i's bridge port down or up: a pulled cable. The node
// keeps its address; its packets go nowhere until the port is up again.
func (w *network) setLink(ctx context.Context, i int, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := runCmd(ctx, "ip", "-n", w.bridgeNS(), "link", "set", w.bridgePort(i), state)
	return err
}

// linkBytes reads the bridge ports' counters: what each node sent (the
// port received) and what it was sent, keyed by node index.
func (w *network) linkBytes(ctx context.Context) (map[int][2]uint64, error) {
	out, err := runCmd(ctx, "ip", "-n", w.bridgeNS(), "-s", "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	return parseLinkStats(out)
}

func parseLinkStats(out []byte) (map[int][2]uint64, error) {
	var links []struct {
		Name  string `json:"ifname"`
		Stats struct {
			RX struct {
				Bytes uint64 `json:"bytes"`
			} `json:"rx"`
			TX struct {
				Bytes uint64 `json:"bytes"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("reading ip -s -j link show: %w", err)
	}
	res := map[int][2]uint64{}
	for _, l := range links {
		if !strings.HasPrefix(l.Name, "v") {
			continue
		}
		i, err := strconv.Atoi(l.Name[1:])
		if err != nil {
			continue
		}
		res[i] = [2]uint64{l.Stats.RX.Bytes, l.Stats.TX.Bytes}
	}
	return res, nil
}

// destroy kills whatever runs in the run's namespaces and deletes them,
// nodes first; the veths and qdiscs go with them. It keeps going past
// errors and reports them all.
func (w *network) destroy(ctx context.Context) error {
	w.mu.Lock()
	created := w.created
	w.created = nil
	w.mu.Unlock()
	var errs []error
	for i := len(created) - 1; i >= 0; i-- {
		if err := deleteNS(ctx, created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteNS kills the processes inside ns (a process would keep the
// namespace alive after its name is gone) and deletes it.
func deleteNS(ctx context.Context, ns string) error {
	if out, err := runCmd(ctx, "ip", "netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_, err := runCmd(ctx, "ip", "netns", "del", ns)
	return err
}

// listNS lists the namespace names in /run/netns with our prefix.
func listNS() ([]string, error) {
	ents, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// runState is StateDir/<run>.json.
type runState struct {
	PID       int    `json:"pid"`
	StartTick uint64 `json:"start_tick"` // /proc/PID/stat field 22: tells PID reuse apart
	WorkDir   string `json:"work_dir"`
}

func writeState(run string, st runState) error {
	if err := os.MkdirAll(StateDir, 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(st)
	return os.WriteFile(filepath.Join(StateDir, run+".json"), b, 0o600)
}

func removeState(run string) { _ = os.Remove(filepath.Join(StateDir, run+".json")) }

// alive reports whether the runner that wrote st still runs.
func (st runState) alive() bool {
	if st.PID <= 0 {
		return false
	}
	f, err := procStatFields(st.PID)
	if err != nil || f[0] == "Z" || f[0] == "X" {
		return false // gone, or killed and not yet reaped
	}
	tick, err := strconv.ParseUint(f[19], 10, 64)
	return err == nil && tick == st.StartTick
}

// runOfNS extracts the run ID from a namespace name of ours.
func runOfNS(ns string) string {
	rest := strings.TrimPrefix(ns, prefix+"-")
	run, _, _ := strings.Cut(rest, "-")
	return run
}

// Sweep removes what earlier runs left behind when their runner was
// killed: the namespaces (and the processes, links and qdiscs in them),
// the state files and the work directories. A run whose runner is alive
// is left alone, so two runs can share the machine. It returns what it
// removed.
func Sweep(ctx context.Context) ([]string, error) {
	var removed []string
	var errs []error
	states := map[string]runState{}
	if ents, err := os.ReadDir(StateDir); err == nil {
		for _, e := range ents {
			run, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok {
				continue
			}
			var st runState
			if b, err := os.ReadFile(filepath.Join(StateDir, e.Name())); err == nil {
				_ = json.Unmarshal(b, &st)
			}
			states[run] = st
		}
	}
	nss, err := listNS()
	if err != nil {
		return nil, err
	}
	// Node namespaces before bridge namespaces, so no veth outlives its
	// bridge for a moment; order does not matter for correctness.
	var bridges []string
	for _, ns := range nss {
		if states[runOfNS(ns)].alive() {
			continue
		}
		if strings.HasSuffix(ns, "-br") {
			bridges = append(bridges, ns)
			continue
		}
		if err := deleteNS(ctx, ns); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, "netns "+ns)
		}
	}
	for _, ns := range bridges {
		if err := deleteNS(ctx, ns); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, "netns "+ns)
		}
	}
	for run, st := range states {
		if st.alive() {
			continue
		}
		if st.WorkDir != "" && strings.HasPrefix(filepath.Base(st.WorkDir), prefix+"-") {
			if err := os.RemoveAll(st.WorkDir); err != nil {
				errs = append(errs, err)
			} else {
				removed = append(removed, "dir "+st.WorkDir)
			}
		}
		removeState(run)
	}
	return removed, errors.Join(errs...)
}

// procStartTick is field 22 of /proc/PID/stat, the process's start time
// in clock ticks since boot.
func procStartTick(pid int) (uint64, error) {
	f, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// procStatFields returns /proc/PID/stat's fields after the command name
// (field 3 is index 0); the name may hold spaces and parentheses, so the
// split starts after its last ')'.
func procStatFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}
