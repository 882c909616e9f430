package component

import (
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
