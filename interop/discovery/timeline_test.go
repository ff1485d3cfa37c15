package discovery

import (
	"errors"
	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"

	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// timelineLog keeps one node's reactor log lines that say where time goes
// (dial errors), timestamped from the run's start.
type timelineLog struct {
	mu    *sync.Mutex
	start *time.Time
	node  int
	out   map[int][]string
}

func (l timelineLog) rec(level, msg string, kv ...any) {
	if msg != "dial" && msg != "error dialing seed" && level == "debug" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out[l.node] = append(l.out[l.node], fmt.Sprintf("%6.3fs %s %s %v", time.Since(*l.start).Seconds(), level, msg, kv))
}
func (l timelineLog) Debugw(msg string, kv ...any) { l.rec("debug", msg, kv...) }
func (l timelineLog) Infow(msg string, kv ...any)  {}
func (l timelineLog) Warnw(msg string, kv ...any)  { l.rec("warn", msg, kv...) }
func (l timelineLog) Errorw(msg string, kv ...any) { l.rec("error", msg, kv...) }

// Diagnostic for issue 7 item 4 (rounds to the peer target): a per-node
// timeline of one pexp2p discovery run — when each node got the seed,
// the seed's answer (and how many addresses it held), and when it
// reached the peer target — with the slowest nodes' events and dial
// errors. Run with PEXP2P_DISCOVERY_TIMELINE=N (and
// PEXP2P_DISCOVERY_SEED=false for a regular seed); skipped otherwise.
func TestDiscoveryTimeline(t *testing.T) {
	nStr := os.Getenv("PEXP2P_DISCOVERY_TIMELINE")
	if nStr == "" {
		t.Skip("diagnostic; set PEXP2P_DISCOVERY_TIMELINE=N")
	}
	n, err := strconv.Atoi(nStr)
	if err != nil {
		t.Fatal(err)
	}
	seedMode := os.Getenv("PEXP2P_DISCOVERY_SEED") != "false"
	type ev struct {
		at time.Duration
		traceEvent
	}
	var (
		mu           sync.Mutex
		start        = time.Now()
		events       = map[int][]ev{}
		logs         = map[int][]string{}
		seedID       string
		dialStats    []time.Duration
		dialOutcomes = map[string]int{}
	)
	st := libp2pStack{
		trace: func(i int, e traceEvent) {
			mu.Lock()
			events[i] = append(events[i], ev{time.Since(start), e})
			mu.Unlock()
		},
		logger: func(i int) pex.Logger { return timelineLog{mu: &mu, start: &start, node: i, out: logs} },
		wrapNet: func(i int, n pex.Network) pex.Network {
			return timedDials{Network: n, rec: func(a addrbook.NetAddress, t0 time.Time, err error) {
				mu.Lock()
				defer mu.Unlock()
				e := "ok"
				if err != nil {
					e = err.Error()
					if len(e) > 90 {
						e = e[:90]
					}
				}
				logs[i] = append(logs[i], fmt.Sprintf("%6.3fs dial %s took %.3fs: %s", t0.Sub(start).Seconds(), short(a.ID, seedID), time.Since(t0).Seconds(), e))
				dialStats = append(dialStats, time.Since(t0))
				switch {
				case err == nil:
					dialOutcomes["ok"]++
				case strings.Contains(err.Error(), "deadline exceeded"):
					dialOutcomes["deadline exceeded"]++
				case errors.Is(err, pex.ErrAlreadyConnectedOrDialing):
					dialOutcomes["already connected or dialing"]++
				default:
					dialOutcomes["other error"]++
				}
			}}
		},
	}
	cfg := Config{Nodes: n, Period: time.Second, SeedMode: seedMode, Duration: 40 * time.Second,
		OnSnapshot: func(_ string, el time.Duration, _ []NodeStat) {
			if el < 50*time.Millisecond {
				mu.Lock()
				start = time.Now().Add(-el)
				mu.Unlock()
			}
		}}
	res, err := Run(context.Background(), tracedStack{st, &seedID}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res)
	target := cfg.PeerTarget()
	type row struct {
		node                          int
		seedAdd, seedAddrs, atTarget  time.Duration
		seedN, removes, adds, inbound int
	}
	var rows []row
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < n; i++ {
		r := row{node: i, seedAdd: -1, seedAddrs: -1, atTarget: -1}
		peers := map[string]bool{}
		for _, e := range events[i] {
			switch e.Kind {
			case "add":
				peers[e.Peer] = true
				r.adds++
				if !e.Outbound {
					r.inbound++
				}
				if e.Peer == seedID && r.seedAdd < 0 {
					r.seedAdd = e.at
				}
			case "remove":
				delete(peers, e.Peer)
				r.removes++
			case "addrs":
				if e.Peer == seedID && r.seedAddrs < 0 {
					r.seedAddrs, r.seedN = e.at, e.Addrs
				}
			}
			if r.atTarget < 0 && len(peers) >= target {
				r.atTarget = e.at
			}
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(a, b int) bool { return rows[a].atTarget < rows[b].atTarget })
	var b strings.Builder
	fmt.Fprintf(&b, "node  seed-added  seed-answer(n)  at-target  adds(in)  removes\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%4d  %9.3fs  %9.3fs(%3d)  %8.3fs  %4d(%2d)  %4d\n", r.node, r.seedAdd.Seconds(), r.seedAddrs.Seconds(), r.seedN, r.atTarget.Seconds(), r.adds, r.inbound, r.removes)
	}
	t.Logf("per node (sorted by time to %d peers; -0.000 = never):\n%s", target, b.String())
	sort.Slice(dialStats, func(a, b int) bool { return dialStats[a] < dialStats[b] })
	if k := len(dialStats); k > 0 {
		t.Logf("%d dials: median %.3fs, p90 %.3fs, max %.3fs; outcomes %v", k, dialStats[k/2].Seconds(), dialStats[k*9/10].Seconds(), dialStats[k-1].Seconds(), dialOutcomes)
	}
	for _, r := range rows[max(0, len(rows)-3):] {
		var lines []string
		for _, e := range events[r.node] {
			lines = append(lines, fmt.Sprintf("%6.3fs %s %s out=%v n=%d", e.at.Seconds(), e.Kind, short(e.Peer, seedID), e.Outbound, e.Addrs))
		}
		lines = append(lines, logs[r.node]...)
		sort.Strings(lines)
		t.Logf("slow node %d:\n%s", r.node, strings.Join(lines, "\n"))
	}
}

func short(id, seed string) string {
	if id == seed {
		return "SEED"
	}
	if len(id) > 8 {
		return id[len(id)-6:]
	}
	return id
}

// timedDials reports every dial's latency and outcome.
type timedDials struct {
	pex.Network
	rec func(addrbook.NetAddress, time.Time, error)
}

func (d timedDials) Dial(ctx context.Context, a addrbook.NetAddress) error {
	t0 := time.Now()
	err := d.Network.Dial(ctx, a)
	d.rec(a, t0, err)
	return err
}

// tracedStack records the seed's peer ID once the network is built.
type tracedStack struct {
	libp2pStack
	seedID *string
}

func (s tracedStack) Build(cfg Config) (Network, error) {
	n, err := s.libp2pStack.Build(cfg)
	if err == nil {
		*s.seedID = n.(*libp2pNet).nodes[0].node.ID().String()
	}
	return n, err
}
