package pexnode

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// Metric names follow upstream's p2p metrics (namespace cometbft,
// subsystem p2p); upstream has none for the book or PEX, these fill that
// gap in the same style (design brief, Observability).
const (
	metricsNamespace = "cometbft"
	metricsSubsystem = "p2p"
)

// peerCounter is the part of a face the peers gauge reads.
type peerCounter interface {
	NumPeers() (outbound, inbound, dialing int)
}

// Metrics is the reactor's pex.Observer turned into Prometheus counters,
// plus gauges read from the face and the book at scrape time.
type Metrics struct {
	pexRequests   *prometheus.CounterVec
	addrsReceived prometheus.Counter
	misbehavior   *prometheus.CounterVec
	bans          prometheus.Counter
	dials         *prometheus.CounterVec
}

var _ pex.Observer = (*Metrics)(nil)

// NewMetrics registers the PEX counters on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
	}
	m := &Metrics{
		pexRequests:   prometheus.NewCounterVec(prometheus.CounterOpts(opts("pex_requests_total", "PEX requests sent and received.")), []string{"dir"}),
		addrsReceived: prometheus.NewCounter(prometheus.CounterOpts(opts("pex_addrs_received_total", "Addresses received in accepted PexAddrs messages."))),
		misbehavior:   prometheus.NewCounterVec(prometheus.CounterOpts(opts("pex_misbehavior_total", "Peers stopped for a PEX protocol violation, by reason (wire_*: the transport's own wire-format checks).")), []string{"reason"}),
		bans:          prometheus.NewCounter(prometheus.CounterOpts(opts("bans_total", "Bans issued by the PEX reactor and by the transport for wire violations."))),
		dials:         prometheus.NewCounterVec(prometheus.CounterOpts(opts("dials_total", "Dials attempted or refused by the PEX reactor, by result.")), []string{"result"}),
	}
	// Pre-create the label values so a scrape shows zeros, not absence.
	for _, d := range []pex.Direction{pex.DirSent, pex.DirReceived} {
		m.pexRequests.WithLabelValues(string(d))
	}
	for _, r := range []pex.Reason{pex.ReasonRequestTooSoon, pex.ReasonUnsolicited, pex.ReasonTooManyAddrs, pex.ReasonInvalidAddr} {
		m.misbehavior.WithLabelValues(string(r))
	}
	for _, r := range wireReasons {
		m.misbehavior.WithLabelValues(r)
	}
	for _, r := range []pex.DialResult{pex.DialOK, pex.DialFailed, pex.DialAlready, pex.DialTooEarly, pex.DialMaxAttempts, pex.DialAuthFailure} {
		m.dials.WithLabelValues(string(r))
	}
	for _, c := range []prometheus.Collector{m.pexRequests, m.addrsReceived, m.misbehavior, m.bans, m.dials} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// RegisterGauges registers the peers gauge read from net and the book
// gauges read from book at scrape time; the face and the book exist only
// after the reactor's observer (the counters) had to be chosen.
func RegisterGauges(reg prometheus.Registerer, net peerCounter, book *addrbook.Book) error {
	var cs []prometheus.Collector
	if net != nil {
		cs = append(cs, &peersCollector{net: net, desc: prometheus.NewDesc(
			prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "peers"),
			"Connected peers by direction (dialing: dials in flight).", []string{"direction"}, nil)})
	}
	if book != nil {
		cs = append(cs, &bookCollector{book: book, desc: prometheus.NewDesc(
			prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "addrbook_size"),
			"Addresses in the address book by bucket type.", []string{"bucket_type"}, nil),
			banned: prometheus.NewDesc(
				prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "addrbook_banned"),
				"IDs banned in the address book.", nil, nil)})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// NewRegistry is a registry with the Go runtime and process collectors,
// what an operator expects next to the application's metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func (m *Metrics) PexRequest(dir pex.Direction)  { m.pexRequests.WithLabelValues(string(dir)).Inc() }
func (m *Metrics) AddrsReceived(n int)           { m.addrsReceived.Add(float64(n)) }
func (m *Metrics) Misbehavior(reason pex.Reason) { m.misbehavior.WithLabelValues(string(reason)).Inc() }
func (m *Metrics) Ban()                          { m.bans.Inc() }
func (m *Metrics) Dial(result pex.DialResult)    { m.dials.WithLabelValues(string(result)).Inc() }

// wireReasons are transport.WireViolationReason's labels and the
// peer-records protocol's reasons, pre-created so a scrape shows zeros.
var wireReasons = []string{"wire_too_large", "wire_malformed", "wire_empty", "wire_unknown_type", "wire_second_message", "wire_stalled",
	string(pex.ReasonForgedRecord), string(pex.ReasonRecordsWire)}

// WireViolation counts a peer the transport stopped (and, when banned,
// banned) for breaking the wire protocol, under the same counters as the
// reactor's misbehaviour.
func (m *Metrics) WireViolation(reason string, banned bool) {
	if reason == "" {
		reason = "wire_other"
	}
	m.misbehavior.WithLabelValues(reason).Inc()
	if banned {
		m.bans.Inc()
	}
}

type peersCollector struct {
	net  peerCounter
	desc *prometheus.Desc
}

func (c *peersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *peersCollector) Collect(ch chan<- prometheus.Metric) {
	out, in, dialing := c.net.NumPeers()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(out), "outbound")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(in), "inbound")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(dialing), "dialing")
}

type bookCollector struct {
	book   *addrbook.Book
	desc   *prometheus.Desc
	banned *prometheus.Desc
}

func (c *bookCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.banned }
func (c *bookCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.book.Counts()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(st.New), "new")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(st.Old), "old")
	ch <- prometheus.MustNewConstMetric(c.banned, prometheus.GaugeValue, float64(st.Banned))
}
