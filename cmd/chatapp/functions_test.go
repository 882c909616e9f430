package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
)

// proc is one process as /proc shows it; start (its start time, in clock
// ticks since boot) tells it apart from a later process with its pid.
type proc struct {
	pid   int
	comm  string
	start string
}

// procStat reads /proc/PID/stat: the command name, state, parent and
// start time of a process; ok is false once it is gone.
func procStat(pid int) (comm string, state byte, ppid int, start string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, "", false
	}
	// pid (comm) state ppid ... with comm free to hold spaces and parens.
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return "", 0, 0, "", false
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 20 {
		return "", 0, 0, "", false
	}
	ppid, _ = strconv.Atoi(fields[1])
	return string(data[open+1 : end]), fields[0][0], ppid, fields[19], true
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []proc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, _, ppid, start, ok := procStat(child); ok && ppid == pid {
			out = append(out, proc{pid: child, comm: comm, start: start})
		}
	}
	return out
}

// running reports whether p still runs: a zombie has exited, and a pid
// with another start time is another process.
func (p proc) running() bool {
	_, state, _, start, ok := procStat(p.pid)
	return ok && start == p.start && state != 'Z'
}

// TestRIEFunctionsDieWithTheServer kills `chatapp serve --functions rie`
// with SIGKILL, which no cleanup survives, after every function has run
// once: none of its emulators, nor the bootstrap each one started, may be
// left running.
func TestRIEFunctionsDieWithTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chatapp binary, the emulator and DynamoDB Local")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal and /proc are Linux's")
	}
	bin, rie, boot := buildBinary(t), rieBinary(t), bootstrapBinary(t)
	cfg := dynamoConfig(t)
	p := startServe(t, bin, []string{"CHATAPP_AUTH_SECRET=" + authTestSecret},
		"--store", "dynamodb", "--dynamodb-endpoint", cfg.DynamoDB.Endpoint, "--create-tables",
		"--messages-table", cfg.DynamoDB.MessagesTable, "--connections-table", cfg.DynamoDB.ConnectionsTable,
		"--functions", "rie", "--rie", rie, "--bootstrap", boot, "--log-level", "warn")

	// Every function runs once, so that each emulator has its bootstrap.
	const room = "pdeath"
	token := devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{room}})
	bearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPut, "/chat", `{"room_id":"` + room + `","text":"hello"}`},
		{http.MethodGet, "/chat?room_id=" + room, ""},
		{http.MethodGet, "/chat/users?room_id=" + room, ""},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		if r := do(t, req.method, p.url+req.path, body, bearer); r.Status != http.StatusOK {
			t.Fatalf("%s %s: %d %s", req.method, req.path, r.Status, r.Body)
		}
	}
	c := dial(t, p.url, "ada", originalQuery("ada", room)+"token="+token)
	c.send(`{"action":"sendmessage","text":"over the socket"}`)
	if m := c.nextMessage(); m.Text != "over the socket" {
		t.Fatalf("push %q", m.Text)
	}
	c.send(`{"action":"nosuch"}`)
	c.nextError()
	c.conn.Close(websocket.StatusNormalClosure, "")
	eventually(t, "$disconnect removed the connection", func() bool {
		r := do(t, http.MethodGet, p.url+"/chat/users?room_id="+room, nil, bearer)
		return r.Status == http.StatusOK && !strings.Contains(string(r.Body), "connection_id")
	})

	emulators := children(t, p.cmd.Process.Pid)
	var bootstraps []proc
	for _, e := range emulators {
		if e.comm != filepath.Base(rie)[:min(len(filepath.Base(rie)), 15)] {
			t.Errorf("serve runs %s (pid %d), not an emulator", e.comm, e.pid)
		}
		bootstraps = append(bootstraps, children(t, e.pid)...)
	}
	left := append(append([]proc{}, emulators...), bootstraps...)
	t.Cleanup(func() {
		for _, q := range left {
			if q.running() {
				syscall.Kill(q.pid, syscall.SIGKILL)
			}
		}
	})
	if n := len(awslambda.Names()); len(emulators) != n || len(bootstraps) != n {
		t.Fatalf("%d emulators running %d bootstraps, want %d of each: %+v %+v", len(emulators), len(bootstraps), n, emulators, bootstraps)
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case <-p.exited:
	case <-time.After(2 * waitTimeout):
		t.Fatal("chatapp still running after SIGKILL")
	}
	deadline := time.Now().Add(3 * waitTimeout)
	for {
		var running []proc
		for _, q := range left {
			if q.running() {
				running = append(running, q)
			}
		}
		if len(running) == 0 {
			t.Logf("%d emulators and %d bootstraps gone %v after the server", len(emulators), len(bootstraps), time.Since(killed).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the server's SIGKILL, still running: %+v", 3*waitTimeout, running)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInvokeIsNeverRetried: the gateway invokes a function once per request,
// as API Gateway does. The SDK's default retryer would send a failed Invoke
// again (a 5xx, a reset connection) though its first attempt may have run,
// and a send would be stored twice.
func TestInvokeIsNeverRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-Amzn-ErrorType", "ServiceException")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"message":"the runtime failed"}`))
	}))
	defer srv.Close()
	inv := &invoke.Invoker{Client: newInvokeClient(func() string { return srv.URL }), FunctionName: "function"}
	if _, err := inv.Invoke(context.Background(), map[string]string{}); err == nil {
		t.Fatal("Invoke succeeded against a failing emulator")
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("%d Invoke requests, want 1", got)
	}
}
