// Command scaleplot draws rounds to 90 % books against N on a log axis:
// the simulation of `pexp2p testnet`'s topology (pex/pextest.TestnetSim,
// virtual time, deterministic) at the sizes of -sim for each visitor
// count of -visitors, and the real-host runs of the `pexp2p testnet
// --json` result files given as arguments (one series per stack).
//
//	go run ./testnet/scaleplot -o docs/plots/rounds-vs-n.svg \
//	    -sim 50,100,200,500,1000 -visitors 2,160 N50.json N100.json N200.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/pexp2p/pexp2p/pex/pextest"
	"github.com/pexp2p/pexp2p/testnet"
)

// ListError names a -sim or -visitors entry that is not a count.
type ListError struct {
	Flag, Value string
}

func (e *ListError) Error() string {
	return fmt.Sprintf("scaleplot: -%s: %q is not a non-negative whole number", e.Flag, e.Value)
}

func ints(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, &ListError{Flag: name, Value: f}
		}
		out = append(out, v)
	}
	return out, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("o", "rounds-vs-n.svg", "SVG file to write")
	simN := flag.String("sim", "50,100,200,500,1000", "network sizes to simulate (empty: none)")
	vis := flag.String("visitors", "2,160", "over-limit visitor slots of the simulated seed, one series each")
	flag.Parse()
	ns, err := ints("sim", *simN)
	if err != nil {
		return err
	}
	vs, err := ints("visitors", *vis)
	if err != nil {
		return err
	}
	var series []testnet.ScaleSeries
	for _, v := range vs {
		s := testnet.ScaleSeries{Name: fmt.Sprintf("simulation, seed with %d visitor slots", v), Dashed: true}
		for _, n := range ns {
			p, err := pextest.RunScale(n, v, 1)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "sim N=%d visitors=%d: rounds to peers %d, to 90 %% books %d\n", n, v, p.RoundsToPeers, p.RoundsToBooks)
			s.Points = append(s.Points, testnet.ScalePoint{N: n, Rounds: float64(p.RoundsToBooks), Reached: p.RoundsToBooks > 0})
		}
		series = append(series, s)
	}
	real, err := realSeries(flag.Args())
	if err != nil {
		return err
	}
	series = append(series, real...)
	if len(series) == 0 {
		return errors.New("scaleplot: nothing to plot (no -sim sizes and no result files)")
	}
	return os.WriteFile(*out, testnet.ScaleSVG("rounds until every book holds 90 % of the network, against N", series), 0o644)
}

// realSeries reads `pexp2p testnet --json` outputs: one series per stack,
// a point per file.
func realSeries(files []string) ([]testnet.ScaleSeries, error) {
	byStack := map[string]*testnet.ScaleSeries{}
	var order []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Results []testnet.StackResult `json:"results"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("scaleplot: %s: %w", f, err)
		}
		for _, r := range doc.Results {
			s, ok := byStack[r.Stack]
			if !ok {
				s = &testnet.ScaleSeries{Name: "real hosts, " + r.Stack}
				byStack[r.Stack] = s
				order = append(order, r.Stack)
			}
			s.Points = append(s.Points, testnet.ScalePoint{N: r.Nodes, Rounds: float64(r.Books.Rounds), Reached: r.Books.Reached})
		}
	}
	var out []testnet.ScaleSeries
	for _, name := range order {
		s := byStack[name]
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].N < s.Points[j].N })
		out = append(out, *s)
	}
	return out, nil
}
