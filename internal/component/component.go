// Package component is the tests' one rule for a real component that is
// missing (DynamoDB Local, PostgreSQL, NATS, the Lambda emulator,
// Chromium, Mono, the AsyncAPI parser): outside CI the test skips, saying
// how to get it; with CI=true (.ci/run) it fails, since CI must run every
// test. It also starts a component's process so that it dies with the
// test binary (process.go).
package component

import (
	"errors"
	"fmt"
	"net"
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

// Unavailable is why a component cannot start on this machine (it is not
// installed): Require ends the test as Missing. Any other error of a
// component's start is a failure wherever it happens.
type Unavailable string

func (u Unavailable) Error() string { return string(u) }

// Require ends t when the start of the component called name failed with
// err: Missing, saying how to get it, when err is Unavailable; a failure
// otherwise. It does nothing when err is nil.
func Require(t T, name string, err error, how string) {
	t.Helper()
	switch {
	case errors.As(err, new(Unavailable)):
		Missing(t, "%s is not available: %v; %s", name, err, how)
	case err != nil:
		t.Fatal(fmt.Sprintf("%s: %v", name, err))
	}
}

// FreePort returns a TCP port of 127.0.0.1 that is free now. A component
// may lose it to another process before it binds: its start tries again.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
