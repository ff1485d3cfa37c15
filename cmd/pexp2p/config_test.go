package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// The generated config.toml reads back as the defaults, so init's file
// and the built-in defaults cannot drift apart.
func TestConfigTOMLRoundTrip(t *testing.T) {
	home := t.TempDir()
	def := DefaultConfig()
	def.P2P.Seeds = "12D3KooWDcgTm2x4gQm71pq4nqMJo4PgMAGzU66B5i93NUU6jEQB@1.2.3.4:26656"
	def.P2P.EnsurePeersPeriod = Duration(1500 * time.Millisecond)
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := def.MarshalTOML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ConfigPath(home), data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, def) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, def)
	}
	// CometBFT's [p2p] key names are the file's key names.
	text := string(data)
	for _, k := range []string{"laddr", "external_address", "seeds", "persistent_peers", "private_peer_ids", "pex", "seed_mode",
		"addr_book_file", "addr_book_strict", "max_num_inbound_peers", "max_num_outbound_peers", "allow_duplicate_ip", "ensure_peers_period"} {
		if !strings.Contains(text, "\n"+k+" = ") {
			t.Errorf("config.toml lacks key %s", k)
		}
	}
}

// Strings that Go's quoting would write with escapes TOML lacks (\x7f,
// \a, \v, other control characters), quotes, backslashes, line
// separators and runes outside the Basic Multilingual Plane all read back
// as written, through a file and through init's flags.
func TestConfigTOMLRoundTripsAwkwardStrings(t *testing.T) {
	awkward := []string{
		"del\x7fhere", "bell\a", "vtab\v", "nul\x00", "esc\x1b[0m", "tab\tnewline\n",
		`quote" back\slash`, "line\u2028sep", "emoji 😀", "tag \U000E0001", "c1 \u0085",
	}
	for _, s := range awkward {
		t.Run(strconv.QuoteToASCII(s), func(t *testing.T) {
			c := DefaultConfig()
			c.Moniker = s
			c.ChainID = "chain-" + s
			data, err := c.MarshalTOML()
			if err != nil {
				t.Fatal(err)
			}
			home := t.TempDir()
			if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ConfigPath(home), data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadConfig(home)
			if err != nil {
				t.Fatalf("the written file does not load: %v\n%s", err, data)
			}
			// Only TOML 1.0's escapes: readers older than TOML 1.1
			// (\x, \e) must read the file too.
			for i := 0; i < len(data); i++ {
				if data[i] != '\\' {
					continue
				}
				i++
				if i == len(data) || !strings.ContainsRune(`btnfr"\uU`, rune(data[i])) {
					t.Fatalf("escape \\%c is not TOML 1.0:\n%s", data[min(i, len(data)-1)], data)
				}
			}
			if got.Moniker != s || got.ChainID != "chain-"+s {
				t.Fatalf("read back moniker %q, chain ID %q; want %q", got.Moniker, got.ChainID, s)
			}
		})
	}
	// Through the command: init writes what --moniker says.
	home := t.TempDir()
	if code, _, errOut := runCmd(t, "--home", home, "init", "--moniker", "del\x7f😀"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	got, err := LoadConfig(home)
	if err != nil || got.Moniker != "del\x7f😀" {
		t.Fatalf("moniker %q, %v", got.Moniker, err)
	}
}

// TOML cannot hold a string that is not UTF-8: a flag or a Config that
// carries one is a usage error naming the key, and nothing is written.
func TestConfigRejectsStringsThatAreNotUTF8(t *testing.T) {
	c := DefaultConfig()
	c.Moniker = "bad\xff"
	if _, err := c.MarshalTOML(); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "config key moniker") {
		t.Fatalf("MarshalTOML: %v", err)
	}
	if err := c.Validate(); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "config key moniker") {
		t.Fatalf("Validate: %v", err)
	}
	home := t.TempDir()
	code, _, errOut := runCmd(t, "--home", home, "init", "--moniker", "bad\xff")
	if code != exitUsage || !strings.Contains(errOut, "flag --moniker") {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(ConfigPath(home)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a config was written: %v", err)
	}
}

// An unknown key and a bad value are usage errors naming the key.
func TestConfigRejectsUnknownAndBadKeys(t *testing.T) {
	for name, tc := range map[string]struct{ toml, want string }{
		"unknown key":    {"[p2p]\nseedz = \"x\"\n", "p2p.seedz"},
		"bad duration":   {"[p2p]\nensure_peers_period = \"soon\"\n", "soon"},
		"wrong type":     {"[p2p]\nmax_num_inbound_peers = \"many\"\n", "max_num_inbound_peers"},
		"unknown table":  {"[p2pp]\nladdr = \"x\"\n", "p2pp"},
		"bad seed":       {"[p2p]\nseeds = \"nobody@1.2.3.4:1\"\n", "nobody@1.2.3.4:1"},
		"seed no peerID": {"[p2p]\nseeds = \"/ip4/1.2.3.4/tcp/26656\"\n", "/ip4/1.2.3.4/tcp/26656"},
		"bad laddr":      {"[p2p]\nladdr = \"/ip4/1.2.3.4/udp/1\"\n", "/ip4/1.2.3.4/udp/1"},
		"zero save":      {"[p2p]\naddr_book_save_interval = \"0s\"\n", "p2p.addr_book_save_interval"},
		"zero burst":     {"[p2p]\nrequest_burst = 0\n", "p2p.request_burst"},
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ConfigPath(home), []byte(tc.toml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(home)
			if err == nil {
				err = c.Validate()
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a usage error naming %q", err, tc.want)
			}
			code, _, errOut := runCmd(t, "--home", home, "show-node-id")
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, %s", code, errOut)
			}
		})
	}
}

// Flags override the file, only where given; every config key has a flag.
func TestFlagsOverrideFile(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	cf := addConfigFlags(fs)
	for _, f := range configFields() {
		if fs.Lookup(f.key) == nil {
			t.Errorf("no flag for config key %s", f.key)
		}
	}
	if err := fs.Parse([]string{"--p2p.ensure_peers_period", "1s", "--p2p.seed_mode", "--p2p.max_num_outbound_peers=3"}); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.P2P.MaxNumInboundPeers = 7 // as if from the file
	if err := cf.apply(&c); err != nil {
		t.Fatal(err)
	}
	if c.P2P.EnsurePeersPeriod.D() != time.Second || !c.P2P.SeedMode || c.P2P.MaxNumOutboundPeers != 3 || c.P2P.MaxNumInboundPeers != 7 {
		t.Fatalf("applied %+v", c.P2P)
	}
	fs2 := pflag.NewFlagSet("y", pflag.ContinueOnError)
	cf2 := addConfigFlags(fs2)
	_ = fs2.Parse([]string{"--p2p.ensure_peers_period", "-1s"})
	if err := cf2.apply(&c); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "p2p.ensure_peers_period") {
		t.Fatalf("negative duration: %v", err)
	}
}

// Unknown flags and arguments are usage errors (exit 2).
func TestUsageExitStatus(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"},
		{"show-node-id", "extra"},
		{"addrbook", "import"},
		{"testnet", "--nodes", "1"},
		{"testnet", "--transport", "udp"},
	} {
		code, _, _ := runCmd(t, append([]string{"--home", t.TempDir()}, args...)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
