// Package interop holds the tests and benchmarks that put pexp2p next to
// the real upstream CometBFT v0.40.0 packages in one run: the wire bytes
// and stream framing, address book files in both directions, the same
// operation sequence on both books, and seed capacity. Its subpackages
// carry the longer runs: discovery (the side-by-side discovery benchmark,
// on package testnet's harness, the one `pexp2p testnet --compare-classic`
// runs on), crash, eclipse and hostile, and upstreamconv, the conversions
// between pexp2p's and upstream's address types that those tests share.
//
// Everything here imports upstream only to compare against it. Nothing
// outside interop imports it: not the command, not the harness, not the
// library packages.
package interop
