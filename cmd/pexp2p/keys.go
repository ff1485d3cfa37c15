package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pexp2p/pexp2p/transport"
)

func nodeKeyPath(g *globals, c *Config) string { return abs(g.home, c.P2P.NodeKeyFile) }

func newInitCmd(g *globals) *cobra.Command {
	var cf *configFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write config/config.toml and config/node_key.json under --home (an existing key is kept)",
		Long: `Write config/config.toml (unless it exists) and config/node_key.json (unless
it exists) under --home, then print the node's CometBFT ID and libp2p peer
ID. An existing key — including a CometBFT node_key.json copied in — is
never replaced. Flags set here (e.g. --chain-id, --p2p.seeds) go into a
newly written config.toml.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			cfgPath := ConfigPath(g.home)
			var c Config
			_, statErr := os.Stat(cfgPath)
			writeCfg := errors.Is(statErr, os.ErrNotExist)
			if writeCfg {
				c = DefaultConfig()
				if err := cf.apply(&c); err != nil {
					return err
				}
				if err := c.Validate(); err != nil {
					return err
				}
			} else {
				var err error
				if c, err = loadConfig(g, cf); err != nil {
					return err
				}
			}
			// The key first: if it is corrupt we stop before writing
			// anything, so a failed init leaves the disk as it was.
			keyPath := nodeKeyPath(g, &c)
			if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(keyPath), err)
			}
			key, created, err := transport.LoadOrGenNodeKey(keyPath, nil)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(out, "Generated node key %s\n", keyPath)
			} else {
				fmt.Fprintf(out, "Found node key %s (kept)\n", keyPath)
			}
			if writeCfg {
				if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
					return fmt.Errorf("creating %s: %w", filepath.Dir(cfgPath), err)
				}
				text, err := c.MarshalTOML()
				if err != nil {
					return err
				}
				if err := writeNewFile(cfgPath, text, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(out, "Wrote config %s\n", cfgPath)
			} else {
				fmt.Fprintf(out, "Found config %s (kept)\n", cfgPath)
			}
			fmt.Fprintf(out, "id: %s\npeer_id: %s\n", key.CometID(), key.PeerID())
			return nil
		},
	}
	cf = addConfigFlags(cmd.Flags())
	return cmd
}

// writeNewFile creates path with data, refusing to replace a file.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// nodeIDJSON is show-node-id --json: CometBFT's ID, the libp2p peer ID,
// and the raw ed25519 public key in base64 (the value CometBFT's
// "tendermint/PubKeyEd25519" JSON carries).
type nodeIDJSON struct {
	ID     string `json:"id"`
	PeerID string `json:"peer_id"`
	PubKey string `json:"pub_key"`
}

func loadKey(g *globals, cf *configFlags) (*transport.NodeKey, error) {
	c, err := loadConfig(g, cf)
	if err != nil {
		return nil, err
	}
	return loadNodeKeyForRun(g, &c)
}

func newShowNodeIDCmd(g *globals) *cobra.Command {
	var cf *configFlags
	var libp2p, asJSON bool
	cmd := &cobra.Command{
		Use:     "show-node-id",
		Aliases: []string{"show_node_id"},
		Short:   "Print the node's CometBFT ID (--libp2p: its peer ID; --json: both and the public key)",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := loadKey(g, cf)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				return json.NewEncoder(out).Encode(nodeIDJSON{
					ID:     key.CometID(),
					PeerID: key.PeerID().String(),
					PubKey: base64.StdEncoding.EncodeToString(key.PubKey()),
				})
			case libp2p:
				fmt.Fprintln(out, key.PeerID())
			default:
				fmt.Fprintln(out, key.CometID())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&libp2p, "libp2p", false, "print the libp2p peer ID (12D3KooW…)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","peer_id","pub_key"}`)
	cf = addConfigFlags(cmd.Flags())
	return cmd
}

func newGenNodeKeyCmd(g *globals) *cobra.Command {
	var cf *configFlags
	cmd := &cobra.Command{
		Use:     "gen-node-key",
		Aliases: []string{"gen_node_key"},
		Short:   "Generate a node key and print its CometBFT ID; refuses to overwrite an existing key",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadConfig(g, cf)
			if err != nil {
				return err
			}
			path := nodeKeyPath(g, &c)
			if _, err := os.Stat(path); err == nil {
				return usage("node key file", path, errors.New("already exists; refusing to overwrite the node's identity"))
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
			}
			key, err := transport.GenNodeKey(nil)
			if err != nil {
				return err
			}
			if err := key.SaveAs(path); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key.CometID())
			return nil
		},
	}
	cf = addConfigFlags(cmd.Flags())
	return cmd
}
