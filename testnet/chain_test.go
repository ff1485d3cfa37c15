package testnet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/types"
)

func validChainSpec() ChainSpec {
	return ChainSpec{Validators: 2, FullNodes: 1, PEX: true, Period: time.Second, TargetHeight: 3,
		MaxOutbound: 10, Duration: time.Minute, Binary: "/bin/true"}
}

func TestChainSpecValidateNamesTheBadSetting(t *testing.T) {
	for _, tc := range []struct {
		field  string
		adjust func(*ChainSpec)
	}{
		{"validators", func(s *ChainSpec) { s.Validators = 0 }},
		{"full-nodes", func(s *ChainSpec) { s.FullNodes = -1 }},
		{"validators+full-nodes", func(s *ChainSpec) { s.FullNodes = MaxChainNodes }},
		{"period", func(s *ChainSpec) { s.Period = 0 }},
		{"height", func(s *ChainSpec) { s.TargetHeight = 0 }},
		{"max-outbound", func(s *ChainSpec) { s.MaxOutbound = 0 }},
		{"duration", func(s *ChainSpec) { s.Duration = -time.Second }},
		{"binary", func(s *ChainSpec) { s.Binary = "" }},
	} {
		s := validChainSpec()
		tc.adjust(&s)
		var se *ChainSpecError
		if err := s.Validate(); !errors.As(err, &se) || se.Field != tc.field || !errors.Is(err, ErrSpec) {
			t.Errorf("%s: got %v", tc.field, err)
		}
	}
	if err := validChainSpec().Validate(); err != nil {
		t.Fatal(err)
	}
}

// The homes carry one genesis with every validator, libp2p on, and the
// seed as every other node's only address; the static mesh instead lists
// every other non-seed node as a persistent bootstrap peer, with PEX off.
func TestLayoutChainWritesSeedOrStaticMesh(t *testing.T) {
	for _, static := range []bool{false, true} {
		spec := validChainSpec()
		spec.StaticMesh = static
		spec.FirstIP = 200 // addresses no other test uses
		procs, err := layoutChain(t.TempDir(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(procs) != 4 || procs[0].Role != "seed" || procs[1].Role != "validator" || procs[3].Role != "full" {
			t.Fatalf("roles %+v", procs)
		}
		var chainID string
		for i, p := range procs {
			c := cmtcfg.DefaultConfig()
			c.SetRoot(p.home)
			gen, err := types.GenesisDocFromFile(c.GenesisFile())
			if err != nil {
				t.Fatal(err)
			}
			if len(gen.Validators) != 2 || (chainID != "" && gen.ChainID != chainID) {
				t.Fatalf("%s: genesis %d validators, chain %q", p.Name, len(gen.Validators), gen.ChainID)
			}
			chainID = gen.ChainID
			cfg := readConfig(t, p.home)
			if !strings.Contains(cfg, "enabled = true") {
				t.Fatalf("%s: libp2p not enabled", p.Name)
			}
			switch {
			case i == 0:
				if !strings.Contains(cfg, "seed_mode = true") {
					t.Fatalf("seed not in seed mode")
				}
			case static:
				if !strings.Contains(cfg, "pex = false") || strings.Count(cfg, "persistent = true") != 2 {
					t.Fatalf("%s: static mesh config\n%s", p.Name, cfg)
				}
			default:
				if !strings.Contains(cfg, procs[0].PeerID) || !strings.Contains(cfg, "pex = true") {
					t.Fatalf("%s: seed address missing", p.Name)
				}
			}
		}
	}
}

func readConfig(t *testing.T, home string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
