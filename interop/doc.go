// Package interop holds the tests and benchmarks that put pexp2p next to
// the real upstream CometBFT v0.40.0 packages in one run: the wire bytes
// and stream framing (item 1), address book files in both directions
// (item 2), the same operation sequence on both books (item 3), and seed
// capacity (item 5). The side-by-side discovery benchmark (item 4) lives
// in the exported subpackage interop/discovery so that `pexp2p testnet
// --compare-classic` can run it too.
//
// Everything here imports upstream only to compare against it; nothing in
// pexp2p's own packages depends on this package.
package interop
