package testnet

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sampleChain reads every node's height and switch peers from its RPC and
// its book size from its metrics, concurrently.
func sampleChain(client *http.Client, procs []*chainProc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, peers, err := rpcState(client, p.IP)
			p.Up = err == nil
			if err == nil {
				p.Height, p.Peers = h, peers
			}
			if m, err := readMetrics(client, p.IP); err == nil {
				if m.hasBook {
					p.Book = m.book
				}
				p.Goroutines, p.Streams = m.goroutines, m.streams
			}
			if u, err := ProcessUsage(p.cmd.Process.Pid); err == nil {
				p.peak = max(p.peak, u.RSSBytes)
			}
		}()
	}
	wg.Wait()
}

func rpcState(client *http.Client, ip string) (height int64, peers int, err error) {
	var st struct {
		Result struct {
			SyncInfo struct {
				LatestBlockHeight string `json:"latest_block_height"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := getJSON(client, fmt.Sprintf("http://%s:%d/status", ip, chainRPCPort), &st); err != nil {
		return 0, 0, err
	}
	var ni struct {
		Result struct {
			NPeers string `json:"n_peers"`
		} `json:"result"`
	}
	if err := getJSON(client, fmt.Sprintf("http://%s:%d/net_info", ip, chainRPCPort), &ni); err != nil {
		return 0, 0, err
	}
	height, err = strconv.ParseInt(st.Result.SyncInfo.LatestBlockHeight, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("status: height %q: %w", st.Result.SyncInfo.LatestBlockHeight, err)
	}
	peers, err = strconv.Atoi(ni.Result.NPeers)
	if err != nil {
		return 0, 0, fmt.Errorf("net_info: n_peers %q: %w", ni.Result.NPeers, err)
	}
	return height, peers, nil
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Metrics a cometnode node serves that the runner reads: its book size,
// and for leak checks its goroutines and open libp2p streams.
const (
	bookMetric       = "pexp2p_cometbft_p2p_addrbook_size"
	goroutinesMetric = "go_goroutines"
	streamsMetric    = "pexp2p_cometbft_p2p_libp2p_streams"
)

type nodeMetrics struct {
	book, goroutines, streams int
	hasBook                   bool
}

func readMetrics(client *http.Client, ip string) (nodeMetrics, error) {
	var m nodeMetrics
	resp, err := client.Get(fmt.Sprintf("http://%s:%d/metrics", ip, chainPromPort))
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return m, err
	}
	sum := func(name string) (int, bool) {
		mf, ok := mfs[name]
		if !ok {
			return 0, false
		}
		total := 0.0
		for _, x := range mf.GetMetric() {
			total += x.GetGauge().GetValue()
		}
		return int(total), true
	}
	m.book, m.hasBook = sum(bookMetric)
	m.goroutines, _ = sum(goroutinesMetric)
	m.streams, _ = sum(streamsMetric)
	return m, nil
}
