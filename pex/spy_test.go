package pex_test

import (
	"sync"

	"github.com/pexp2p/pexp2p/addrbook"
	"github.com/pexp2p/pexp2p/pex"
)

// spyBook wraps a book and records the calls a test asserts on.
type spyBook struct {
	pex.AddrBook
	mu             sync.Mutex
	pickBiases     []int
	selections     int
	biasSelections []int
	reinstates     int
	needMore       *bool // overrides NeedMoreAddrs when set
}

func (s *spyBook) PickAddress(bias int) (addrbook.NetAddress, bool) {
	s.mu.Lock()
	s.pickBiases = append(s.pickBiases, bias)
	s.mu.Unlock()
	return s.AddrBook.PickAddress(bias)
}

func (s *spyBook) GetSelection() []addrbook.NetAddress {
	s.mu.Lock()
	s.selections++
	s.mu.Unlock()
	return s.AddrBook.GetSelection()
}

func (s *spyBook) GetSelectionWithBias(bias int) []addrbook.NetAddress {
	s.mu.Lock()
	s.biasSelections = append(s.biasSelections, bias)
	s.mu.Unlock()
	return s.AddrBook.GetSelectionWithBias(bias)
}

func (s *spyBook) ReinstateBadPeers() {
	s.mu.Lock()
	s.reinstates++
	s.mu.Unlock()
	s.AddrBook.ReinstateBadPeers()
}

func (s *spyBook) NeedMoreAddrs() bool {
	s.mu.Lock()
	nm := s.needMore
	s.mu.Unlock()
	if nm != nil {
		return *nm
	}
	return s.AddrBook.NeedMoreAddrs()
}

func (s *spyBook) picks() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.pickBiases...)
}
