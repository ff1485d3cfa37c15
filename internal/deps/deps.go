//go:build pexp2pdeps

// Package deps pins the modules pexp2p builds on before every package
// that uses them exists, so go.mod and go.sum stay complete and stable.
package deps

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/cometbft/cometbft/p2p"
	_ "github.com/cometbft/cometbft/p2p/pex"
	_ "github.com/cometbft/cometbft/proto/tendermint/p2p"
	_ "github.com/ipfs/go-log/v2"
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/multiformats/go-multiaddr"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/vbauerster/mpb/v8"
	_ "go.uber.org/goleak"
)
