// Package component is the tests' one rule for a real component that is
// missing (DynamoDB Local, the Lambda emulator, Chromium, Mono, the AsyncAPI
// parser): outside CI the test skips, saying how to get it; with CI=true
// (.ci/run) it fails, since CI must run every test.
package component

import (
	"fmt"
	"os"
)

// T is what Missing needs of a test: a *testing.T or *testing.B.
type T interface {
	Helper()
	Fatal(args ...any)
	Skip(args ...any)
}

// CI reports whether this is a CI run (CI=true), where nothing may skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends t: skipped outside CI, failed in CI, with the message
// (what is missing and how to get it).
func Missing(t T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatal(msg + " (CI=true: a missing component fails)")
	}
	t.Skip(msg)
}
