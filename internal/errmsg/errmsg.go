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
