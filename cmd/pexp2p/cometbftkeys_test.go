package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/pexp2p/pexp2p/cometnode"
	"github.com/pexp2p/pexp2p/pexnode"
)

// cometViper resolves keys as `pexp2p cometbft start` does: flags bound,
// CMT_* environment, then config.toml.
func cometViper(t *testing.T, file string, args ...string) *viper.Viper {
	t.Helper()
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	v.SetEnvPrefix("CMT")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
	addPexp2pFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := v.BindPFlags(fs); err != nil {
		t.Fatal(err)
	}
	return v
}

// Every pexp2p key of `pexp2p cometbft start` is read from [pexp2p] in
// config.toml, the environment overrides the file and a flag both; keys
// set nowhere keep their defaults, the defences off.
func TestCometBFTPexp2pKeysPrecedence(t *testing.T) {
	adjust, err := pexp2pSettings(cometViper(t, "").Get)
	if err != nil {
		t.Fatal(err)
	}
	var d cometnode.Settings
	adjust(&d)
	if d.Defences != (pexnode.Defences{}) || d.EnsurePeersPeriod != cometnode.DefaultEnsurePeersPeriod || d.AddrBookSaveInterval != 0 {
		t.Fatalf("defaults %+v: want every defence off", d)
	}

	t.Setenv("CMT_PEXP2P_MAX_ANCHORS", "3")
	t.Setenv("CMT_PEXP2P_OUTBOUND_GROUP_LIMIT", "1")
	v := cometViper(t, `[pexp2p]
test_before_evict = true
feeler_interval = "2m"
max_anchors = 2
asmap_file = "config/asmap.txt"
addr_book_save_interval = "10s"
signed_records = true
`, "--pexp2p.feeler_interval=30s", "--pexp2p.outbound_group_limit=4")
	adjust, err = pexp2pSettings(v.Get)
	if err != nil {
		t.Fatal(err)
	}
	var s cometnode.Settings
	adjust(&s)
	want := pexnode.Defences{
		TestBeforeEvict:    true,               // file
		FeelerInterval:     30 * time.Second,   // flag over file
		MaxAnchors:         3,                  // environment over file
		OutboundGroupLimit: 4,                  // flag over environment
		ASMapFile:          "config/asmap.txt", // file
		SignedRecords:      true,               // file
	}
	if s.Defences != want || s.AddrBookSaveInterval != 10*time.Second || s.EnsurePeersPeriod != cometnode.DefaultEnsurePeersPeriod {
		t.Fatalf("settings %+v\nwant defences %+v, save interval 10s (file), ensure period the default", s, want)
	}
}

// A value of the wrong type or sign, from the file or a flag, is a
// *cometnode.ConfigError naming the key and the value.
func TestCometBFTPexp2pKeysRejectBadValues(t *testing.T) {
	for name, tc := range map[string]struct {
		file       string
		args       []string
		key, value string
	}{
		"negative anchors in file": {file: "[pexp2p]\nmax_anchors = -1\n", key: "pexp2p.max_anchors", value: "-1"},
		"feeler without unit":      {file: "[pexp2p]\nfeeler_interval = 5\n", key: "pexp2p.feeler_interval", value: "5"},
		"feeler not a duration":    {file: "[pexp2p]\nfeeler_interval = \"often\"\n", key: "pexp2p.feeler_interval", value: "often"},
		"tbe not a bool":           {file: "[pexp2p]\ntest_before_evict = \"maybe\"\n", key: "pexp2p.test_before_evict", value: "maybe"},
		"asmap not a string":       {file: "[pexp2p]\nasmap_file = 7\n", key: "pexp2p.asmap_file", value: "7"},
		"negative feeler flag":     {args: []string{"--pexp2p.feeler_interval=-1s"}, key: "pexp2p.feeler_interval", value: "-1s"},
		"negative group flag":      {args: []string{"--pexp2p.outbound_group_limit=-1"}, key: "pexp2p.outbound_group_limit", value: "-1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pexp2pSettings(cometViper(t, tc.file, tc.args...).Get)
			var cerr *cometnode.ConfigError
			if !errors.As(err, &cerr) || cerr.Key != tc.key || cerr.Value != tc.value {
				t.Fatalf("err %v; want a ConfigError for %s = %q", err, tc.key, tc.value)
			}
		})
	}
}

// The binary refuses a bad pexp2p key before the node starts, naming it.
func TestCometBFTStartRefusesBadPexp2pKey(t *testing.T) {
	bin := buildBinary(t)
	home := t.TempDir()
	if out, err := exec.Command(bin, "cometbft", "init", "--home", home).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--pexp2p.max_anchors=11"}},
		{[]string{"--pexp2p.asmap_file=missing.txt"}},
		{[]string{"--pexp2p.feeler_interval=-1m"}},
	} {
		args := append([]string{"cometbft", "start", "--home", home, "--proxy_app", "kvstore"}, tc.args...)
		cmd := exec.Command(bin, args...)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("%v: still running after 60s", tc.args)
		}
		key := strings.SplitN(strings.TrimPrefix(tc.args[0], "--"), "=", 2)[0]
		if err == nil || !strings.Contains(string(out), "config key "+key) {
			t.Fatalf("%v: err %v, output does not name %s:\n%s", tc.args, err, key, out)
		}
	}
}
