package cometnode_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pexp2p/pexp2p/internal/testhost"
)

// The chain tests run whole CometBFT nodes with pexp2p discovery; none of
// their goroutines may outlive the test that started them (each test
// stops its nodes and what upstream's Node.Stop leaves running, see
// chainNode.release).
func TestMain(m *testing.M) {
	testhost.VerifyTestMain(m,
		// CometBFT v0.40's autofile.Group.Close closes the consensus WAL's
		// head file but not its AutoFile, whose SIGHUP handler and
		// close ticker goroutines therefore outlive every stopped node.
		goleak.IgnoreTopFunction("github.com/cometbft/cometbft/libs/autofile.OpenAutoFile.func1"),
		goleak.IgnoreTopFunction("github.com/cometbft/cometbft/libs/autofile.(*AutoFile).closeFileRoutine"),
		// CometBFT's blocksync.BlockPool sleeps out its peer-connection
		// wait (3 s from start) without watching for Stop, so a node
		// stopped soon after starting leaves it asleep for that long.
		goleak.IgnoreAnyFunction("github.com/cometbft/cometbft/blocksync.(*BlockPool).makeRequestersRoutine"),
		// CometBFT v0.40's mempool broadcastTxRoutine polls forever for a
		// peer's consensus state and never checks whether the peer or the
		// reactor stopped. lp2p keeps that state in the host's peerstore,
		// which the face clears when a peer disconnects, so a peer that
		// leaves before the routine reads its state strands the routine
		// (seen in about half the runs of the inbound-limit test).
		goleak.IgnoreAnyFunction("github.com/cometbft/cometbft/mempool.(*Reactor).broadcastTxRoutine"),
	)
}
