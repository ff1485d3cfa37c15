package addrbook

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAnchorsRoundTripBesideTheBookAndAreUsedOnce(t *testing.T) {
	dir := t.TempDir()
	f := AnchorFileFor(filepath.Join(dir, "addrbook.json"), nil)
	if f.Path != filepath.Join(dir, AnchorsFileName) {
		t.Fatalf("anchors at %s, want beside the book", f.Path)
	}
	want := []NetAddress{routableAddr(1), routableAddr(2)}
	if err := f.SaveAnchors(want); err != nil {
		t.Fatal(err)
	}
	got, err := f.LoadAnchors()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, %v; want %v", got, err, want)
	}
	again, err := f.LoadAnchors()
	if err != nil || len(again) != 0 {
		t.Fatalf("second load gave %v, %v; want nothing: anchors serve one start", again, err)
	}
}

func TestMissingAnchorsFileIsNoAnchors(t *testing.T) {
	f := AnchorFile{Path: filepath.Join(t.TempDir(), AnchorsFileName)}
	if got, err := f.LoadAnchors(); err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestBadAnchorsFileIsATypedErrorNamingTheValue(t *testing.T) {
	for name, tc := range map[string]struct{ content, mention string }{
		"not json":  {"{anchors", "not JSON"},
		"bad entry": {`{"anchors":["` + testID(1) + `@1.2.3.4:26656","nonsense"]}`, `"nonsense"`},
		"bad id":    {`{"anchors":["zz@1.2.3.4:26656"]}`, "zz@1.2.3.4:26656"},
		"unusable":  {`{"anchors":["` + testID(1) + `@0.0.0.0:26656"]}`, "0.0.0.0"},
		"too many":  {`{"anchors":[` + strings.Repeat(`"x",`, 64) + `"x"]}`, "65 anchors"},
	} {
		t.Run(name, func(t *testing.T) {
			f := AnchorFile{Path: filepath.Join(t.TempDir(), AnchorsFileName)}
			if err := os.WriteFile(f.Path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := f.LoadAnchors()
			var ae *AnchorsError
			if !errors.As(err, &ae) || !errors.Is(err, ErrAnchors) || len(got) != 0 {
				t.Fatalf("got %v, %v; want an *AnchorsError", got, err)
			}
			if !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), f.Path) {
				t.Fatalf("error %q does not name %q and the file", err, tc.mention)
			}
			if _, err := os.Stat(f.Path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("bad anchors file left in place: %v", err)
			}
		})
	}
}
