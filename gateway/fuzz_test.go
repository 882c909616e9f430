package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/logtest"
	"github.com/chatapp-dev/chatapp/protocol"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// The fuzz targets of this file's package drive the gateway from outside,
// wired as `chatapp serve` wires it: the real handlers in process and the
// SQLite store. Whatever a client sends, it gets an answer that is not a
// server fault, and nothing panics. `make fuzz` runs each briefly.

// fuzzEnv is one gateway and its store, shared by a fuzz worker's inputs.
type fuzzEnv struct {
	g    *gateway.Gateway
	db   *sqlite.DB
	logs *logtest.Buffer
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	db, err := sqlite.Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sockets := hub.New(logger)
	h := &handler.Handler{Messages: db, Connections: db, Notifier: sockets, Rooms: sockets, Logger: logger}
	cfg := gateway.Config{Hub: sockets, Logger: logger, GatewayResponses: templateResponses()} // as chatapp serve
	cfg.REST, cfg.WebSocket = invoke.InProcess(h)
	g := gateway.New(cfg)
	f.Cleanup(func() {
		g.Close()
		db.Close()
	})
	return &fuzzEnv{g: g, db: db, logs: logs}
}

// checkLogs fails on a server error logged while handling one input: a
// fault the client might not see (a failed $disconnect, a failed push).
func (e *fuzzEnv) checkLogs(t *testing.T) {
	t.Helper()
	if s := e.logs.Take(); strings.Contains(s, "level=ERROR") {
		t.Fatalf("server logged an error:\n%s", s)
	}
}

// checkErrorBody fails unless body is the JSON error, with a code that is
// not a server fault.
func checkErrorBody(t *testing.T, what string, body []byte) string {
	t.Helper()
	var e protocol.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: body %q, want the JSON error", what, body)
	}
	if e.Error.Code == chatapp.EINTERNAL {
		t.Fatalf("%s: server fault %q", what, body)
	}
	return e.Error.Code
}
