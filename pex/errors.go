package pex

import (
	"errors"
	"fmt"
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/internal/errmsg"
)

// Lifecycle and configuration errors.
var (
	ErrInvalidConfig  = errors.New("invalid pex config")
	ErrAlreadyStarted = errors.New("pex reactor already started")
	ErrNotStarted     = errors.New("pex reactor not started")
	// ErrEmptyBookNoSeeds is upstream's start failure: seeds were
	// configured, none resolved, and the book has nothing to dial.
	ErrEmptyBookNoSeeds = errors.New("address book is empty and couldn't resolve any seed nodes")
	// ErrSeedConfig wraps a seed string that cannot be parsed; it fails the
	// start, as upstream.
	ErrSeedConfig = errors.New("seed node configuration has error")
	// ErrSeedLookup wraps a seed host name that did not resolve; it is
	// tolerated at start.
	ErrSeedLookup = errors.New("seed host name did not resolve")
)

// SeedError names the seed entry that failed and why.
type SeedError struct {
	Seed string
	Err  error // ErrSeedConfig or ErrSeedLookup, see Unwrap
	// Cause is the underlying parse or resolver error.
	Cause error
}

func (e *SeedError) Error() string {
	return fmt.Sprintf("%v: %q: %v", e.Err, e.Seed, e.Cause)
}

func (e *SeedError) Unwrap() []error { return []error{e.Err, e.Cause} }

// Reason labels a kind of misbehaviour; it is the label value of
// cometbft_p2p_pex_misbehavior_total{reason}.
type Reason string

// The misbehaviours the reactor punishes with a disconnect and a ban.
const (
	ReasonRequestTooSoon Reason = "request_too_soon"
	ReasonUnsolicited    Reason = "unsolicited_addrs"
	ReasonTooManyAddrs   Reason = "too_many_addrs"
	ReasonInvalidAddr    Reason = "invalid_addr"
	// The face's peer-records protocol (transport.PeerRecordsProtocolID)
	// punishes these itself: a relayed record that does not prove what
	// it was sent for, and a message that breaks the protocol.
	ReasonForgedRecord Reason = "forged_peer_record"
	ReasonRecordsWire  Reason = "peer_records_wire"
)

// Sentinels for each Reason; a *MisbehaviorError matches its sentinel and
// ErrMisbehavior with errors.Is.
var (
	ErrMisbehavior    = errors.New("pex misbehaviour")
	ErrRequestTooSoon = errors.New("sent next PEX request too soon")
	ErrUnsolicited    = errors.New("unsolicited pexAddrsMessage")
	ErrTooManyAddrs   = errors.New("too many addresses in one PexAddrs")
	ErrInvalidAddr    = errors.New("invalid address in PexAddrs")
	ErrForgedRecord   = errors.New("relayed a peer record not signed by its peer")
	ErrRecordsWire    = errors.New("broke the peer-records protocol")
)

var reasonErr = map[Reason]error{
	ReasonRequestTooSoon: ErrRequestTooSoon,
	ReasonUnsolicited:    ErrUnsolicited,
	ReasonTooManyAddrs:   ErrTooManyAddrs,
	ReasonInvalidAddr:    ErrInvalidAddr,
	ReasonForgedRecord:   ErrForgedRecord,
	ReasonRecordsWire:    ErrRecordsWire,
}

// MisbehaviorError is what the reactor passes to Network.StopPeerForError
// when a peer breaks the protocol.
type MisbehaviorError struct {
	PeerID string
	Reason Reason
	Detail string
	// Cause is an underlying error, e.g. the *addrbook.AddressError of
	// an invalid entry; may be nil.
	Cause error
}

func (e *MisbehaviorError) Error() string {
	return errmsg.Join(fmt.Sprintf("peer %s: %v", e.PeerID, reasonErr[e.Reason]), e.Detail, e.Cause)
}

// Is matches ErrMisbehavior and the Reason's sentinel.
func (e *MisbehaviorError) Is(target error) bool {
	return target == ErrMisbehavior || target == reasonErr[e.Reason]
}

func (e *MisbehaviorError) Unwrap() error { return e.Cause }

// Dial outcomes, see DialResult.
var (
	// ErrTooEarlyToDial: the address is still in its backoff window.
	ErrTooEarlyToDial = errors.New("too early to dial")
	// ErrMaxAttemptsToDial: the address failed too often and is banned.
	ErrMaxAttemptsToDial = errors.New("reached max attempts to dial")
)

// DialError reports a dial the reactor refused or that failed.
type DialError struct {
	Addr     addrbook.NetAddress
	Attempts int           // failed attempts recorded so far
	Backoff  time.Duration // for ErrTooEarlyToDial
	Err      error         // ErrTooEarlyToDial, ErrMaxAttemptsToDial or the network's error
}

func (e *DialError) Error() string {
	switch {
	case errors.Is(e.Err, ErrTooEarlyToDial):
		return fmt.Sprintf("dial %s: %v (attempts %d, backoff %v)", e.Addr, e.Err, e.Attempts, e.Backoff)
	default:
		return fmt.Sprintf("dial %s: %v (attempts %d)", e.Addr, e.Err, e.Attempts)
	}
}

func (e *DialError) Unwrap() error { return e.Err }
