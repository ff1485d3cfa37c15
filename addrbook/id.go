package addrbook

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidID is wrapped by every IDRule rejection so callers can test
// for it with errors.Is whatever rule produced it.
var ErrInvalidID = errors.New("invalid node ID")

// IDError names the ID that a rule refused and why.
type IDError struct {
	ID     string
	Rule   string
	Reason string
}

func (e *IDError) Error() string {
	return fmt.Sprintf("invalid node ID %q (%s IDs): %s", e.ID, e.Rule, e.Reason)
}

func (e *IDError) Unwrap() error { return ErrInvalidID }

// IDRule decides which node IDs a book accepts and how they are spelled.
// The book never interprets IDs beyond this rule: the classic face uses
// CometBFT's 40-hex IDs, the libp2p face uses peer IDs (its rule lives in
// package transport so that this package stays free of libp2p).
type IDRule interface {
	// Name is a short label used in error messages, e.g. "classic".
	Name() string
	// Normalize returns the canonical spelling of id, or an *IDError.
	Normalize(id string) (string, error)
}

// classicIDLength is the length of a CometBFT node ID: hex of the
// 20-byte truncated SHA-256 of the public key.
const classicIDLength = 40

type classicIDRule struct{}

// ClassicIDs accepts CometBFT node IDs: 40 hex characters. Upper case is
// accepted and normalised to lower case, because upstream compares IDs as
// plain strings and an upper-case configured ID otherwise never matches the
// key-derived one (cometbft#835).
var ClassicIDs IDRule = classicIDRule{}

func (classicIDRule) Name() string { return "classic" }

func (classicIDRule) Normalize(id string) (string, error) {
	if id == "" {
		return "", &IDError{ID: id, Rule: "classic", Reason: "empty"}
	}
	if strings.HasPrefix(id, "12D3KooW") || strings.HasPrefix(id, "Qm") {
		return "", &IDError{ID: id, Rule: "classic", Reason: "looks like a libp2p peer ID; classic IDs are 40 hex characters"}
	}
	if len(id) != classicIDLength {
		return "", &IDError{ID: id, Rule: "classic", Reason: fmt.Sprintf("length %d, want %d hex characters", len(id), classicIDLength)}
	}
	// Checked by hand rather than with hex.DecodeString: this runs on every
	// address a peer sends, and decoding would allocate for nothing.
	upper := false
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return "", &IDError{ID: id, Rule: "classic", Reason: "not hexadecimal"}
		}
	}
	if upper {
		return strings.ToLower(id), nil
	}
	return id, nil
}
