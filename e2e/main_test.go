package e2e

import (
	"testing"

	"github.com/pexp2p/pexp2p/internal/testhost"
)

// Nodes and runs start goroutines (hosts, reactors, samplers); none may
// outlive the test that started them.
func TestMain(m *testing.M) { testhost.VerifyTestMain(m) }
