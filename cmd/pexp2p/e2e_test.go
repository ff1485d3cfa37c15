package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad manifest is a usage error naming the value, before anything needs
// root or creates anything.
func TestE2EBadManifestExitsTwoNamingTheValue(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(p, []byte("duration = \"60s\"\n[node.a]\nmode = \"validatr\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"e2e", p}, &out, &errb)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), `mode = "validatr"`) {
		t.Errorf("stderr %q does not name the bad mode", errb.String())
	}
}

func TestE2EWithoutAManifestIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"e2e"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, errb.String())
	}
}
