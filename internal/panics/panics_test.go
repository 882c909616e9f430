package panics

import (
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/logtest"
)

// TestRecovered: a panic is counted at its site and logged with its
// stack; a site New was not given is logged as unknown and counted
// nowhere, and never panics itself (it runs where a panic was just
// recovered).
func TestRecovered(t *testing.T) {
	logs := &logtest.Buffer{}
	c := New(slog.New(slog.NewTextHandler(logs, nil)), "socket", "writer")
	c.Recovered(1, "boom")
	c.Recovered(7, "elsewhere")
	c.Recovered(-1, "nowhere")
	if got := maps.Collect(c.All()); got["socket"] != 0 || got["writer"] != 1 || len(got) != 2 {
		t.Errorf("counts %v, want writer 1 and socket 0 only", got)
	}
	if !logtest.PanicLogged(logs.String(), "writer", "TestRecovered") {
		t.Errorf("the writer's panic was not logged with its stack:\n%s", logs)
	}
	if n := strings.Count(logs.String(), "where=unknown"); n != 2 {
		t.Errorf("%d panics logged at an unknown site, want 2:\n%s", n, logs)
	}
}
