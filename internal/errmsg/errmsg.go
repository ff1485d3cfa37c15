// Package errmsg holds the one message shape of pexp2p's typed errors:
// what failed, then what exactly was seen, then the underlying cause, so
// that every *XxxError reads the same way and none formats it on its own.
package errmsg

// Join returns head, then ": detail" if detail is set, then ": " and
// cause's message if cause is set.
func Join(head, detail string, cause error) string {
	s := head
	if detail != "" {
		s += ": " + detail
	}
	if cause != nil {
		s += ": " + cause.Error()
	}
	return s
}

// Kinded is embedded by the typed errors whose family has several kinds of
// failure (a wire's "too large", "malformed"…): Kind is the kind's
// sentinel, which the embedder's Is matches beside its family's, Detail
// what exactly was seen, and Err the cause that errors.Unwrap gives.
type Kinded struct {
	Kind   error
	Detail string // may be empty
	Err    error  // may be nil
}

// Message is head, the kind, then the detail and the cause where set.
func (k Kinded) Message(head string) string { return Join(head+": "+k.Kind.Error(), k.Detail, k.Err) }

func (k Kinded) Unwrap() error { return k.Err }

// Reasoned is embedded by the typed errors that say in words what is
// wrong with their subject: Reason, then the cause that errors.Unwrap
// gives.
type Reasoned struct {
	Reason string // may be empty
	Err    error  // may be nil
}

// Message is head, then the reason and the cause where set.
func (r Reasoned) Message(head string) string { return Join(head, r.Reason, r.Err) }

func (r Reasoned) Unwrap() error { return r.Err }
