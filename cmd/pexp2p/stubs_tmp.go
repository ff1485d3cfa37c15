package main

import "github.com/spf13/cobra"

func newCrawlCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "crawl"} }
