package interop

import (
	"os"
	"testing"

	"github.com/pexp2p/pexp2p/internal/testhost"
)

func TestMain(m *testing.M) {
	if kind := os.Getenv(seedChildEnv); kind != "" {
		runSeedChild(kind)
		return
	}
	testhost.VerifyTestMain(m)
}
