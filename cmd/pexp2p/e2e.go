package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/e2e"
)

// classicVersion is the cometbft release the classic nodes run, the one
// interop/cometbft-binary.sh builds.
const classicVersion = "v0.38.26"

func newE2ECmd() *cobra.Command {
	var (
		asJSON            bool
		svg               string
		pexp2pBin, cmtBin string
		keep, sweepOnly   bool
		tempDir           string
	)
	cmd := &cobra.Command{
		Use:   "e2e MANIFEST.toml",
		Short: "Run a manifest's testnet: one process per node, each in its own network namespace, with link conditions and faults",
		Long: `Run the testnet a TOML manifest describes (see interop/e2e/ and
docs/operations.md): every node is its own process (pexp2p start, pexp2p
bridge, or the cometbft v0.38 binary) in its own network namespace, with
an address in 100.64.0.0/10 spread over the manifest's /16 groups, strict
address books, netem link conditions, and the manifest's kills,
disconnects, pauses and restarts. It prints a table (--json: JSON), can
draw an SVG timeline, and exits 1 when the run fails its checks.

Needs root and iproute2 (ip, tc). Everything the run creates is removed
on exit and on Ctrl-C; leftovers of a killed runner are removed at the
next start (or with --sweep).`,
		Args: usageArgs(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if sweepOnly {
				if err := e2e.CheckPrivileges(); err != nil {
					return err
				}
				removed, err := e2e.Sweep(ctx)
				for _, r := range removed {
					fmt.Fprintf(out, "removed %s\n", r)
				}
				return err
			}
			if len(args) != 1 {
				return usage("arguments of "+cmd.CommandPath(), "", errors.New("want one manifest file"))
			}
			// The manifest first: checking one needs no privileges.
			t, err := e2e.LoadFile(args[0])
			if err != nil {
				return usage("manifest", "", err)
			}
			if err := e2e.CheckPrivileges(); err != nil {
				return err
			}
			bins := e2e.Binaries{Pexp2p: pexp2pBin, Cometbft: cmtBin}
			if bins.Pexp2p == "" {
				if bins.Pexp2p, err = os.Executable(); err != nil {
					return err
				}
			}
			progress := cmd.ErrOrStderr()
			if t.HasClassic() && bins.Cometbft == "" {
				if bins.Cometbft, err = buildCometbft(ctx, progress); err != nil {
					return err
				}
			}
			res, runErr := e2e.Run(ctx, t, e2e.Options{Binaries: bins, TempDir: tempDir, Keep: keep, Progress: progress})
			if res != nil {
				if svg != "" {
					if err := writeFileWith(svg, res.WriteSVG); err != nil {
						return err
					}
				}
				if asJSON {
					if err := writeIndentedJSON(out, res); err != nil {
						return err
					}
				} else if err := res.WriteTable(out); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if !res.Pass {
				return fmt.Errorf("%s failed %d check(s)", t.Name, len(res.Failures))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the result as JSON instead of a table")
	f.StringVar(&svg, "svg", "", "write an SVG timeline (nodes at their targets, perturbations marked) to this file")
	f.StringVar(&pexp2pBin, "pexp2p", "", "pexp2p binary the nodes run (default: this program)")
	f.StringVar(&cmtBin, "cometbft", "", "cometbft v0.38 binary for classic nodes (default: built once from the module proxy into the user cache)")
	f.BoolVar(&keep, "keep", false, "keep the work directory (homes, logs) after the run")
	f.StringVar(&tempDir, "tmp", "", "parent directory of the run's work directory (default: the system's)")
	f.BoolVar(&sweepOnly, "sweep", false, "only remove what killed runs left behind, then exit")
	return cmd
}

func writeFileWith(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return usage("flag --svg", path, err)
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// buildCometbft builds the classic binary as interop/cometbft-binary.sh
// does (go install from the module proxy, outside this module) into the
// user cache, once per version.
func buildCometbft(ctx context.Context, progress io.Writer) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the cometbft binary (give --cometbft): %w", err)
	}
	dir := filepath.Join(cache, "pexp2p-e2e", "cometbft-"+classicVersion)
	bin := filepath.Join(dir, "cometbft")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(progress, "building cometbft %s into %s (once)\n", classicVersion, dir)
	c := exec.CommandContext(ctx, "go", "install", "github.com/cometbft/cometbft/cmd/cometbft@"+classicVersion)
	c.Dir = os.TempDir()
	c.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	c.Stdout, c.Stderr = progress, progress
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("building cometbft %s (or give --cometbft): %w", classicVersion, err)
	}
	return bin, nil
}
