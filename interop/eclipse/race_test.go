//go:build race

package eclipse

// Under the race detector the upstream book runs about ten times slower;
// the default flood is cut again so that the suite stays within its
// budget. The comparison still holds input for input.
func init() {
	if !fullRun() {
		historyBatches, attackBatches, pickDraws, selectionCalls, outboundRounds = 150, 60, 1000, 10, 50
	}
}
