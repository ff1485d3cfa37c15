package addrbook

import (
	"testing"

	"go.uber.org/goleak"
)

// The save routine is the book's only goroutine; none may outlive Stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
