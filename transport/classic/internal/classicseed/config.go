package main

import cmtcfg "github.com/cometbft/cometbft/config"

// classicP2PConfig is upstream's default switch configuration, except
// that several nodes may share one IP, as on loopback.
func classicP2PConfig() *cmtcfg.P2PConfig {
	c := cmtcfg.DefaultP2PConfig()
	c.AllowDuplicateIP = true
	return c
}
