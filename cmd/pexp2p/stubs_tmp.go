package main

import "github.com/spf13/cobra"

func newStartCmd(g *globals) *cobra.Command  { return &cobra.Command{Use: "start"} }
func newTestnetCmd() *cobra.Command          { return &cobra.Command{Use: "testnet"} }
func newCrawlCmd(g *globals) *cobra.Command  { return &cobra.Command{Use: "crawl"} }
func newBridgeCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "bridge"} }
