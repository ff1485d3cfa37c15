package cometnode

import (
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
)

// connsCollector reports the libp2p host's open connections and streams.
// A full node opens a stream per reactor message, so this is where a
// stream leak would show; the demo's long runs watch it.
type connsCollector struct {
	host           func() host.Host
	conns, streams *prometheus.Desc
}

func newConnsCollector(h func() host.Host) *connsCollector {
	return &connsCollector{
		host:    h,
		conns:   prometheus.NewDesc("cometbft_p2p_libp2p_conns", "Open libp2p connections of the node's host.", nil, nil),
		streams: prometheus.NewDesc("cometbft_p2p_libp2p_streams", "Open libp2p streams over all connections of the node's host.", nil, nil),
	}
}

func (c *connsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.conns; ch <- c.streams }

func (c *connsCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.host()
	if h == nil {
		return
	}
	conns := h.Network().Conns()
	streams := 0
	for _, cn := range conns {
		streams += len(cn.GetStreams())
	}
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(len(conns)))
	ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(streams))
}
