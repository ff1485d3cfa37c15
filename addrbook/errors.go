package addrbook

import (
	"errors"
	"fmt"
)

// Reasons AddAddress refuses an address, checked in upstream's order (the
// first failure wins). Test with errors.Is; the
// returned *AddError carries the addresses involved.
var (
	ErrNoSource      = errors.New("address has no source")         // upstream: ErrAddrBookNilAddr
	ErrBanned        = errors.New("address is banned")             // upstream: ErrAddressBanned
	ErrPrivate       = errors.New("address is private")            // upstream: ErrAddrBookPrivate
	ErrPrivateSource = errors.New("address was learned privately") // upstream: ErrAddrBookPrivateSrc
	ErrSelf          = errors.New("address is our own")            // upstream: ErrAddrBookSelf
	ErrNonRoutable   = errors.New("address is not routable")       // upstream: ErrAddrBookNonRoutable

	// AddVerified and AddAlternatives only (no upstream counterpart).
	ErrIDMismatch  = errors.New("address carries another ID than the one it is claimed for")
	ErrNoAddresses = errors.New("no addresses given")
	ErrUnknownID   = errors.New("ID is not in the book")
)

// AddError is what AddAddress returns. Reason is one of the sentinels above,
// or ErrInvalidAddress, in which case Err is the *AddressError from Valid.
type AddError struct {
	Addr, Src NetAddress
	Reason    error
	Err       error
}

func (e *AddError) Error() string {
	if e.Src.IsZero() && e.Reason != ErrNoSource {
		// AddAlternatives has no source to name.
		if e.Err != nil {
			return fmt.Sprintf("cannot add %s: %v: %v", e.Addr, e.Reason, e.Err)
		}
		return fmt.Sprintf("cannot add %s: %v", e.Addr, e.Reason)
	}
	if e.Err != nil {
		return fmt.Sprintf("cannot add %s (source %s): %v: %v", e.Addr, e.Src, e.Reason, e.Err)
	}
	return fmt.Sprintf("cannot add %s (source %s): %v", e.Addr, e.Src, e.Reason)
}

// Is matches the reason sentinel; Unwrap exposes the underlying cause.
func (e *AddError) Is(target error) bool { return target == e.Reason }

func (e *AddError) Unwrap() error { return e.Err }

// Private reports whether the refusal is about private IDs, which callers
// log quietly (upstream's PrivateAddr() marker).
func (e *AddError) Private() bool { return e.Reason == ErrPrivate || e.Reason == ErrPrivateSource }

// ErrOptions is wrapped by New's errors about its options.
var ErrOptions = errors.New("invalid address book options")
