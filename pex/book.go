package pex

import (
	"time"

	"github.com/pexp2p/pexp2p/addrbook"
)

// AddrBook is the part of the address book the reactor uses.
// *addrbook.Book implements it; tests may substitute their own.
// Methods keyed by ID take the ID; methods that store an address take
// the address.
type AddrBook interface {
	// Start loads the book file (if any) and starts periodic saving.
	// Starting an already started book is not an error.
	Start() error
	// Stop saves the book and stops periodic saving; it returns after
	// the final save.
	Stop() error
	Save() error

	AddOurAddress(addr addrbook.NetAddress)
	OurAddress(addr addrbook.NetAddress) bool
	AddPrivateIDs(ids []string)

	AddAddress(addr, src addrbook.NetAddress) error
	RemoveAddress(id string)
	HasAddress(id string) bool
	NeedMoreAddrs() bool
	Empty() bool
	Size() int

	// PickAddress returns a random address, biased towards new ones by
	// biasTowardsNewAddrs percent; false when the book has none to offer.
	PickAddress(biasTowardsNewAddrs int) (addrbook.NetAddress, bool)

	MarkGood(id string)
	MarkAttempt(id string)
	// MarkBad bans addr's ID for d, also when the ID is not in the book.
	MarkBad(addr addrbook.NetAddress, d time.Duration)
	IsBanned(id string) bool
	IsGood(id string) bool
	ReinstateBadPeers()

	GetSelection() []addrbook.NetAddress
	GetSelectionWithBias(biasTowardsNewAddrs int) []addrbook.NetAddress
}

// verifiedPreferrer is the part of *addrbook.Book that Config's
// PreferVerifiedAddrs switches on.
type verifiedPreferrer interface {
	SetPreferVerified(on bool)
}
