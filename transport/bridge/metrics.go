package bridge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// PrometheusMetrics exports cometbft_p2p_bridge_crossings_total{direction,
// result}, in upstream's metric naming style.
type PrometheusMetrics struct {
	crossings *prometheus.CounterVec
}

// NewPrometheusMetrics registers the bridge's counters with reg.
func NewPrometheusMetrics(reg prometheus.Registerer) (*PrometheusMetrics, error) {
	m := &PrometheusMetrics{
		crossings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "cometbft",
			Subsystem: "p2p",
			Name:      "bridge_crossings_total",
			Help:      "Addresses offered for crossing between the classic and libp2p faces, by direction and result.",
		}, []string{"direction", "result"}),
	}
	if err := reg.Register(m.crossings); err != nil {
		return nil, err
	}
	return m, nil
}

// Crossing implements Metrics.
func (m *PrometheusMetrics) Crossing(dir Direction, res Result) {
	m.crossings.WithLabelValues(dir.String(), string(res)).Inc()
}
