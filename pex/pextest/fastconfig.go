package pextest

import (
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// FastConfig is pex.DefaultConfig with sub-second periods and backoffs,
// for tests that run reactors on real hosts and wall-clock time: a
// 300 ms ensure-peers and crawl period, 50 ms dial backoff and jitter, a
// second between crawls of one ID and of grace for over-limit visitors.
// rule names peers (transport.PeerIDs on the libp2p face,
// addrbook.ClassicIDs on the classic one).
func FastConfig(rule addrbook.IDRule, seeds ...string) pex.Config {
	pc := pex.DefaultConfig()
	pc.IDRule = rule
	pc.Seeds = seeds
	pc.EnsurePeersPeriod = 300 * time.Millisecond
	pc.DialBackoffBase = 50 * time.Millisecond
	pc.MaxDialJitter = 50 * time.Millisecond
	pc.CrawlPeerPeriod = 300 * time.Millisecond
	pc.MinTimeBetweenCrawls = time.Second
	pc.OverLimitGrace = time.Second
	return pc
}
