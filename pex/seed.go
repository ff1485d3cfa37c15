package pex

import (
	"errors"

	"github.com/pexp2p/pexp2p/addrbook"
)

// seedStart is the crawler's first round: consult the seeds if any,
// else crawl what the book holds.
func (r *Reactor) seedStart() {
	r.mu.Lock()
	haveSeeds := len(r.seedAddrs) > 0
	r.mu.Unlock()
	if haveSeeds {
		r.dialSeeds()
		return
	}
	r.crawlPeers(r.book.GetSelection())
}

// crawlRound is one crawl tick.
func (r *Reactor) crawlRound() {
	r.attemptDisconnects()
	r.crawlPeers(r.book.GetSelection())
	r.cleanupCrawlInfos()
	r.sweepAttempts()
}

// crawlPeers dials each address not crawled recently and asks it for
// addresses. Unlike upstream, a peer we are already connected to is
// asked too, as the spec says it should be.
func (r *Reactor) crawlPeers(addrs []addrbook.NetAddress) {
	for _, a := range addrs {
		if r.ctx.Err() != nil {
			return
		}
		now := r.clk.Now()
		r.mu.Lock()
		info, ok := r.crawled[a.ID]
		if ok && now.Sub(info.lastCrawled) < r.cfg.MinTimeBetweenCrawls {
			r.mu.Unlock()
			continue
		}
		r.crawled[a.ID] = crawlInfo{addr: a, lastCrawled: now}
		r.mu.Unlock()

		err := r.dialPeer(a)
		if err != nil && !errors.Is(err, ErrAlreadyConnectedOrDialing) {
			r.log.Debugw("crawl dial", "addr", a, "err", err)
			continue
		}
		r.requestAddrs(a.ID)
	}
}

// attemptDisconnects lets go of non-persistent peers connected for at
// least SeedDisconnectWaitPeriod.
func (r *Reactor) attemptDisconnects() {
	now := r.clk.Now()
	for _, p := range r.net.Peers() {
		if now.Sub(p.ConnectedAt) < r.cfg.SeedDisconnectWaitPeriod || p.Persistent {
			continue
		}
		r.net.StopPeerGracefully(p.ID)
	}
}

// cleanupCrawlInfos forgets crawls older than CrawlInfoExpiry.
func (r *Reactor) cleanupCrawlInfos() {
	now := r.clk.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, info := range r.crawled {
		if now.Sub(info.lastCrawled) > r.cfg.CrawlInfoExpiry {
			delete(r.crawled, id)
		}
	}
}
