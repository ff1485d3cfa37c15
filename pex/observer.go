package pex

// DialResult labels the outcome of one dial the reactor attempted or
// refused; it is the label value of cometbft_p2p_dials_total{result}.
type DialResult string

// Dial outcomes.
const (
	DialOK          DialResult = "ok"
	DialFailed      DialResult = "failed"
	DialAlready     DialResult = "already_connected"
	DialTooEarly    DialResult = "too_early"
	DialMaxAttempts DialResult = "max_attempts"
	DialAuthFailure DialResult = "auth_failure"
)

// Direction of a PEX request, the label of cometbft_p2p_pex_requests_total{dir}.
type Direction string

// Request directions.
const (
	DirSent     Direction = "sent"
	DirReceived Direction = "received"
)

// Observer receives the reactor's countable events, so that the command
// can export Prometheus metrics without pex importing prometheus. Calls
// are made synchronously from the reactor's goroutines and must not block
// or call back into the reactor.
type Observer interface {
	// PexRequest counts one PexRequest sent to or received from a peer.
	PexRequest(dir Direction)
	// AddrsReceived counts the addresses of one accepted PexAddrs.
	AddrsReceived(n int)
	// Misbehavior counts a peer stopped for a protocol violation.
	Misbehavior(reason Reason)
	// Ban counts one MarkBad the reactor issued.
	Ban()
	// Dial counts one dial attempt or refusal.
	Dial(result DialResult)
}

// NopObserver ignores everything; embed it to implement only some methods.
type NopObserver struct{}

func (NopObserver) PexRequest(Direction) {}
func (NopObserver) AddrsReceived(int)    {}
func (NopObserver) Misbehavior(Reason)   {}
func (NopObserver) Ban()                 {}
func (NopObserver) Dial(DialResult)      {}
