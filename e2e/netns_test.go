package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rootNet gives a test its own namespace prefix and state directory, or
// skips it where namespaces cannot be made.
func rootNet(t *testing.T) {
	t.Helper()
	if err := CheckPrivileges(); err != nil {
		t.Skip(err)
	}
	oldPrefix, oldState := prefix, StateDir
	// Under Prefix, and with a state file of this process in the real
	// state directory: a runner's sweep on the same machine leaves the
	// test's namespaces alone while it runs and removes what it left if
	// it crashed.
	testRun := "t" + NewRunID()[:4]
	prefix = Prefix + "-" + testRun
	tick, err := procStartTick(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeState(testRun, runState{PID: os.Getpid(), StartTick: tick}); err != nil {
		t.Fatal(err)
	}
	StateDir = t.TempDir()
	t.Cleanup(func() {
		_ = os.Remove(filepath.Join(oldState, testRun+".json"))
		// Whatever a failing test left: remove it by its prefix.
		nss, _ := listNS()
		for _, ns := range nss {
			_ = deleteNS(context.Background(), ns)
		}
		prefix, StateDir = oldPrefix, oldState
	})
}

// hostGateway is the host's default gateway, or failing that an address
// of the host itself: something the host can reach that a node must not.
func hostGateway(t *testing.T) string {
	out, err := runCmd(context.Background(), "ip", "-j", "route", "show", "default")
	if err == nil {
		var routes []struct {
			Gateway string `json:"gateway"`
		}
		if json.Unmarshal(out, &routes) == nil && len(routes) > 0 && routes[0].Gateway != "" {
			return routes[0].Gateway
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	t.Skip("the host has neither a default route nor a non-loopback IPv4 address")
	return ""
}

// Two nodes of a run reach each other through the switch, and neither
// can reach the host's default gateway or anything beyond: their only
// route is the /10 of the run's own link.
func TestNodeNamespaceReachesItsPeerButNotTheHostsDefaultRoute(t *testing.T) {
	rootNet(t)
	// As in a run: the switch ahead of whatever else loads the machine.
	raisePriority(0)
	ctx := context.Background()
	w := &network{names: names{run: NewRunID()}}
	defer func() {
		if err := w.destroy(ctx); err != nil {
			t.Error(err)
		}
	}()
	sw := newSwitch(2)
	defer sw.close()
	if err := w.createBridge(ctx); err != nil {
		t.Fatal(err)
	}
	link := Netem{Delay: time.Millisecond}
	for i := 0; i < 2; i++ {
		if err := w.createNode(ctx, i, NodeIP(i, 0).String()); err != nil {
			t.Fatal(err)
		}
		if err := sw.add(w.bridgeNS(), i, w.bridgePort(i), link, 1); err != nil {
			t.Fatal(err)
		}
	}

	// No default route in a node's namespace.
	out, err := runCmd(ctx, "ip", "-n", w.nodeNS(0), "route", "show", "default")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "" {
		t.Fatalf("node namespace has a default route: %s", out)
	}

	var ln net.Listener
	if err := inNS(w.nodeNS(1), func() error {
		var err error
		ln, err = net.Listen("tcp", NodeIP(1, 0).String()+":7000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("hello"))
			_ = c.Close()
		}
	}()
	// Generous: a loaded CI machine may be slow, and this checks that
	// the path exists, not how fast it is.
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := dialIn(dctx, w.nodeNS(0), NodeIP(1, 0).String()+":7000")
	if err != nil {
		t.Fatalf("node 0 cannot reach node 1 through the switch: %v", err)
	}
	b, _ := io.ReadAll(c)
	_ = c.Close()
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}

	gw := hostGateway(t)
	for _, target := range []string{gw + ":53", "8.8.8.8:53"} {
		_, err := dialIn(dctx, w.nodeNS(0), target)
		if !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("dial %s from a node namespace: %v, want network unreachable", target, err)
		}
	}
}

// A run whose runner died leaves namespaces, a state file and a work
// directory; the next sweep removes them all and leaves a live run alone.
func TestSweepRemovesWhatAKilledRunnerLeftAndSparesALiveRun(t *testing.T) {
	rootNet(t)
	ctx := context.Background()

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadRun, liveRun := NewRunID(), NewRunID()
	deadWork := filepath.Join(t.TempDir(), prefix+"-"+deadRun)
	if err := os.MkdirAll(deadWork, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeState(deadRun, runState{PID: dead.Process.Pid, StartTick: 1, WorkDir: deadWork}); err != nil {
		t.Fatal(err)
	}
	tick, err := procStartTick(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeState(liveRun, runState{PID: os.Getpid(), StartTick: tick}); err != nil {
		t.Fatal(err)
	}
	deadNet := &network{names: names{run: deadRun}}
	liveNet := &network{names: names{run: liveRun}}
	defer liveNet.destroy(ctx)
	for _, w := range []*network{deadNet, liveNet} {
		if err := w.createBridge(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.createNode(ctx, 0, NodeIP(0, 0).String()); err != nil {
			t.Fatal(err)
		}
	}
	// A process of the dead run, still inside its namespace.
	sleeper := exec.Command("ip", "netns", "exec", deadNet.nodeNS(0), "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleeper.Wait() }()
	// Sweep once the process is inside, as a leftover node would be.
	for i := 0; ; i++ {
		out, err := runCmd(ctx, "ip", "netns", "pids", deadNet.nodeNS(0))
		if err == nil && strings.Contains(string(out), strconv.Itoa(sleeper.Process.Pid)) {
			break
		}
		if i == 100 {
			t.Fatal("the process never entered the namespace")
		}
		time.Sleep(50 * time.Millisecond)
	}

	removed, err := Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Errorf("removed %v, want the dead run's 2 namespaces and its directory", removed)
	}
	nss, _ := listNS()
	for _, ns := range nss {
		if runOfNS(ns) == deadRun {
			t.Errorf("namespace %s survived the sweep", ns)
		}
	}
	if len(nss) != 2 {
		t.Errorf("namespaces after the sweep: %v, want the live run's 2", nss)
	}
	if _, err := os.Stat(deadWork); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work directory %s survived: %v", deadWork, err)
	}
	if _, err := os.Stat(filepath.Join(StateDir, deadRun+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file survived: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = sleeper.Process.Kill()
		t.Error("the dead run's process survived the sweep")
	}
}

func TestPrivilegeCheckNamesWhatIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := CheckPrivileges()
	if !errors.Is(err, ErrPrivilege) {
		t.Fatalf("error %v is not ErrPrivilege", err)
	}
	want := `"ip" not found`
	if os.Geteuid() != 0 {
		want = "running as uid"
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %s", err, want)
	}
}
