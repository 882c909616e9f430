package gobuild

import (
	"context"
	"debug/buildinfo"
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// TestCommandMatchesTheTestBinary builds a program and reads its build
// settings: it has -race exactly when this test binary has.
func TestCommandMatchesTheTestBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "prog")
	if b, err := Command(ctx, "-o", out, "./testdata/prog").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	info, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	race := slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
	if race != Race {
		t.Errorf("built with -race: %v; the test binary: %v", race, Race)
	}
}
