package transport

import (
	"github.com/libp2p/go-libp2p"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// HostServiceOptions turn off the go-libp2p services a PEX node has no use
// for (exported so that the testnet harness builds its kad-dht hosts the
// same way). Each runs goroutines per host and work on every identify.
//
//   - AutoNAT v1's client probes peers that offer the AutoNAT service and
//     derives the host's reachability. Only relay, hole punching and the
//     DHT read that reachability, and none runs here, so it is fixed
//     instead of probed (fixing it makes the client a static value with
//     no goroutine). A node that opens those services on the host itself
//     should not rely on Reachability.
//   - Identify's address discovery (the observed-address manager) adds to
//     h.Addrs() the addresses peers say they see us on, which is how a
//     node behind NAT without ExternalAddrs gets its public address into
//     identify and signed peer records. It stays on then; it is off when
//     ExternalAddrs are set (the addresses factory replaces whatever it
//     finds) and when every listen address is loopback (peers can only see
//     a loopback address, already listed).
func HostServiceOptions(cfg Config) []libp2p.Option {
	opts := []libp2p.Option{libp2p.ForceReachabilityPublic()}
	if !addressDiscoveryUseful(cfg) {
		opts = append(opts, libp2p.DisableIdentifyAddressDiscovery())
	}
	return opts
}

// addressDiscoveryUseful says whether observed addresses can add anything
// to what cfg advertises.
func addressDiscoveryUseful(cfg Config) bool {
	if len(cfg.ExternalAddrs) > 0 {
		return false
	}
	for _, a := range cfg.ListenAddrs {
		if !isLoopbackListen(a) {
			return true
		}
	}
	return false
}

func isLoopbackListen(a ma.Multiaddr) bool {
	ip, err := manet.ToIP(a)
	return err == nil && ip.IsLoopback()
}
