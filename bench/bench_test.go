package bench_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/bench"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/sqlite"
)

const workerEnv = "CHATBENCH_TEST_WORKER"

// TestMain lets the test binary serve as a worker process of the
// coordinator, as chatbench re-executes itself.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := bench.WorkerMain(os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pglocal.Run(m.Run)) // TestReadPG's database, stopped after the tests
}

// startServer runs the chat in this process on 127.0.0.1 with no limits,
// wired as `chatapp serve` wires it (SQLite, handlers in process), and
// returns its URL.
func startServer(t *testing.T) string {
	t.Helper()
	return startNodes(t, 1)[0].url
}

// node is one listener of the chat: to the load generator, one node of a
// cluster. It records the rooms its WebSocket clients joined.
type node struct {
	url     string
	next    http.Handler
	mu      sync.Mutex
	members map[string]int // room → members (users m…) that joined here
	senders map[string]int // room → senders (users s…)
}

func (n *node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws" {
		room, user := r.URL.Query().Get("room_id"), r.URL.Query().Get("user_id")
		n.mu.Lock()
		if strings.HasPrefix(user, "s") {
			n.senders[room]++
		} else {
			n.members[room]++
		}
		n.mu.Unlock()
	}
	n.next.ServeHTTP(w, r)
}

// startNodes runs the chat, as startServer, on count listeners: one chat
// (one hub, one store) that looks like a cluster of count nodes.
func startNodes(t *testing.T, count int) []*node {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sockets := hub.New(logger)
	h := &handler.Handler{Messages: db, Connections: db, Notifier: sockets, Rooms: sockets, Logger: logger}
	cfg := gateway.Config{Hub: sockets, Logger: logger}
	cfg.REST, cfg.WebSocket = invoke.InProcess(h)
	g := gateway.New(cfg)
	var (
		nodes   []*node
		servers []*http.Server
	)
	for range count {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n := &node{url: "http://" + ln.Addr().String(), next: g, members: map[string]int{}, senders: map[string]int{}}
		srv := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		nodes, servers = append(nodes, n), append(servers, srv)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.Shutdown(ctx)
		}
		g.Close()
		db.Close()
	})
	return nodes
}

// tiny scales a scenario down to a few seconds.
func tiny(t *testing.T, scenario string) bench.Config {
	t.Helper()
	cfg, err := bench.Defaults(scenario)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Duration, cfg.Drain, cfg.Settle, cfg.Timeout = time.Second, 20*time.Second, 50*time.Millisecond, 2*time.Minute
	cfg.ServerPIDs = []int{os.Getpid()} // the server runs in this process
	switch scenario {
	case "fanout":
		cfg.Members, cfg.Senders, cfg.Window = 20, 2, 4
	case "latency":
		cfg.Members, cfg.Rate = 20, 20
	case "sends":
		cfg.Members, cfg.Rooms, cfg.Senders, cfg.Window = 12, 4, 4, 4
	case "connections":
		cfg.Steps, cfg.Rooms, cfg.Workers = []int{10, 30}, 5, 2
		cfg.SourceAddrs = []string{"127.0.0.1", "127.0.0.2"}
		cfg.WorkerCommand, cfg.WorkerEnv = []string{os.Args[0]}, []string{workerEnv + "=1"}
	}
	return cfg
}

// TestScenarios runs every scenario at tiny scale and checks that the
// result is complete and nothing was lost. Targets are not checked: this is
// no timed test.
func TestScenarios(t *testing.T) {
	cases := []struct {
		name     string
		scenario string
		tweak    func(*bench.Config)
	}{
		{"fanout", "fanout", nil},
		{"latency", "latency", nil},
		{"sends", "sends", nil},
		{"sends-rest", "sends", func(c *bench.Config) { c.SendMode = "rest" }},
		{"fanout-workers", "fanout", func(c *bench.Config) {
			c.Workers, c.WorkerCommand, c.WorkerEnv = 2, []string{os.Args[0]}, []string{workerEnv + "=1"}
		}},
		{"connections", "connections", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tiny(t, tc.scenario)
			cfg.URLs = []string{startServer(t)}
			if tc.tweak != nil {
				tc.tweak(&cfg)
			}
			res, err := bench.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("run: %v (result %+v)", err, res)
			}
			path := filepath.Join(t.TempDir(), "result.json")
			if err := res.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			checkResultFile(t, path, tc.scenario)
			d := res.Deliveries
			if !res.Complete || d == nil || d.Lost != 0 || d.Expected == 0 || d.Received != d.Expected || d.Check.Dropped != 0 || d.Check.Duplicates != 0 {
				t.Fatalf("incomplete: complete=%v deliveries=%+v sends=%+v errors=%v", res.Complete, d, res.Sends, res.Errors)
			}
			if res.Sends == nil || res.Sends.Acked == 0 || res.Sends.Failed != 0 {
				t.Fatalf("sends %+v", res.Sends)
			}
			if len(res.Targets) == 0 || res.Server == nil || res.Server.After.RSSKB == 0 {
				t.Fatalf("targets %+v server %+v", res.Targets, res.Server)
			}
			switch tc.scenario {
			case "connections":
				if len(res.Connections) != len(cfg.Steps) || res.Connections[len(res.Connections)-1].Open != cfg.Steps[len(cfg.Steps)-1] {
					t.Fatalf("connections %+v", res.Connections)
				}
			default:
				if d.Latency.Count != d.Received || d.Latency.P50MS <= 0 || d.PerSecond <= 0 {
					t.Fatalf("latency %+v, %.0f deliveries/s", d.Latency, d.PerSecond)
				}
			}
		})
	}
}

// checkResultFile decodes the JSON file and checks its sections are there.
func checkResultFile(t *testing.T, path, scenario string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"scenario", "machine", "config", "server", "sends", "deliveries", "targets", "complete", "client_cpu_seconds"}
	if scenario == "connections" {
		want = append(want, "connections")
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("result has no %q: %s", k, b)
		}
	}
	if m["scenario"] != scenario {
		t.Errorf("scenario %v, want %s", m["scenario"], scenario)
	}
	machine, _ := m["machine"].(map[string]any)
	if machine["nproc"] == nil || machine["go_version"] == nil {
		t.Errorf("machine %v", machine)
	}
}

// TestReadProc reads this process's /proc entry.
func TestReadProc(t *testing.T) {
	s, err := bench.ReadProc(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKB <= 0 || s.Threads <= 0 || s.FDs <= 0 {
		t.Fatalf("%+v", s)
	}
}
