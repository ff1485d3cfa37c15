package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// LoadConfig reads home's config.toml over the defaults. A missing file is
// the defaults; an unknown key or a bad value is a *UsageError naming it.
func LoadConfig(home string) (Config, error) {
	c := DefaultConfig()
	path := ConfigPath(home)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, &UsageError{What: "config file " + path, Err: err}
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return c, &UsageError{What: "config file " + path, Err: err}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return c, &UsageError{What: "config file " + path, Value: strings.Join(keys, ", "), Err: errors.New("unknown config key")}
	}
	return c, nil
}

// MarshalTOML writes the config with a comment above every key, in the
// style of CometBFT's generated config.toml. Values go through the TOML
// encoder, one key at a time so that each keeps its comment: Go's quoting
// (strconv.Quote) writes escapes such as \x7f and \a that TOML does not
// have. A string that is not valid UTF-8 cannot be written in TOML at
// all; it is a *UsageError naming the key.
func (c *Config) MarshalTOML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# pexp2p configuration. Every key is also a command-line flag:\n")
	b.WriteString("# [p2p] seeds = \"…\" is --p2p.seeds \"…\". Durations: 500ms, 30s, 2m.\n")
	section := ""
	for _, f := range configFields() {
		sec, key := "", f.key
		if i := strings.LastIndexByte(f.key, '.'); i >= 0 {
			sec, key = f.key[:i], f.key[i+1:]
		}
		if sec != section {
			fmt.Fprintf(&b, "\n[%s]\n", sec)
			section = sec
		}
		fmt.Fprintf(&b, "\n# %s\n", f.doc)
		v := c.value(f).Interface()
		if s, ok := v.(string); ok && !utf8.ValidString(s) {
			return nil, &UsageError{What: "config key " + f.key, Value: s, Err: errNotUTF8}
		}
		line, err := toml.Marshal(map[string]any{key: v})
		if err != nil {
			return nil, &UsageError{What: "config key " + f.key, Err: err}
		}
		b.Write(line)
	}
	return b.Bytes(), nil
}

// errNotUTF8 is a string TOML cannot hold.
var errNotUTF8 = errors.New("not valid UTF-8")
