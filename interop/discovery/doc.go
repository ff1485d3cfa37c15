// Package discovery holds the side-by-side discovery benchmark, pexp2p on
// libp2p against upstream CometBFT's classic stack, and a per-node
// timeline diagnostic. Both run on package testnet, the harness `pexp2p
// testnet --compare-classic` runs on, so their figures and the command's
// come from one measurement. The package has no code of its own: it is
// the home of tests that take minutes and are started by hand (see
// docs/performance.md).
package discovery
