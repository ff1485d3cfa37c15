package main

import "github.com/spf13/cobra"

func newTestnetCmd() *cobra.Command         { return &cobra.Command{Use: "testnet"} }
func newCrawlCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "crawl"} }
