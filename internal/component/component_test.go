package component

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a T that records how Missing ended it.
type recorder struct {
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.failed, r.msg = true, args[0].(string)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, args[0].(string)
	runtime.Goexit()
}

// TestMissing: outside CI a missing component skips, in CI it fails, with
// the message either way.
func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "false", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Missing(r, "widget is missing: install %s", "it")
		}()
		<-done
		if r.failed != (ci == "true") || r.skipped != (ci != "true") || !strings.HasPrefix(r.msg, "widget is missing: install it") {
			t.Errorf("CI=%q: skipped %v, failed %v, %q", ci, r.skipped, r.failed, r.msg)
		}
	}
}

// TestRequire: a start that failed because the component is not installed
// ends as Missing (skipped outside CI), saying how to get it; any other
// failure fails; no error goes on.
func TestRequire(t *testing.T) {
	t.Setenv("CI", "")
	for _, tt := range []struct {
		err             error
		skipped, failed bool
		msg             string
	}{
		{err: nil},
		{err: fmt.Errorf("start: %w", Unavailable("no widget")), skipped: true, msg: "Widget is not available: start: no widget; install it"},
		{err: errors.New("it crashed"), failed: true, msg: "Widget: it crashed"},
	} {
		r := &recorder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Require(r, "Widget", tt.err, "install it")
		}()
		<-done
		if r.skipped != tt.skipped || r.failed != tt.failed || r.msg != tt.msg {
			t.Errorf("Require(%v): skipped %v, failed %v, %q; want %v, %v, %q", tt.err, r.skipped, r.failed, r.msg, tt.skipped, tt.failed, tt.msg)
		}
	}
}
