// Package bench is the load generator of cmd/chatbench: many WebSocket
// clients of a chatapp server (or of Centrifugo, to compare) over loopback, in this process or in worker
// processes, in the scenarios of BENCHMARKS.md (fanout, latency,
// connections, sends). Every scenario is bounded in count and time, stops by
// itself and writes a Result.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Scenarios are the scenario names Run knows.
var Scenarios = []string{"fanout", "latency", "connections", "sends"}

// Config describes one run. Defaults gives each scenario's.
type Config struct {
	Scenario string `json:"scenario"`
	// URLs are the servers' http://host:port: one, or the nodes of a
	// cluster, over which members and senders are spread (nodeOf); empty
	// with ServeCmd.
	URLs []string `json:"urls"`
	// ServeCmd starts the server (see StartServer); ServerPIDs name the
	// running ones, for their RSS and CPU.
	ServeCmd   string `json:"serve_cmd,omitempty"`
	ServerPIDs []int  `json:"server_pids,omitempty"`
	// BrokerPID and StorePID are the nats-server and the PostgreSQL
	// postmaster of a cluster, whose CPU (the postmaster's with all its
	// child processes) is reported next to the nodes'. BrokerMonitorURL is
	// nats-server's monitoring address (-m PORT) for its message counts,
	// StoreURL the database's, for its write transactions and WAL bytes.
	BrokerPID        int    `json:"broker_pid,omitempty"`
	StorePID         int    `json:"store_pid,omitempty"`
	BrokerMonitorURL string `json:"broker_monitor_url,omitempty"`
	StoreURL         string `json:"-"` // may hold a password

	Members  int    `json:"members"`   // receiving connections in all
	Rooms    int    `json:"rooms"`     // members and senders are spread over them
	Senders  int    `json:"senders"`   // sending clients, sender i in room i%Rooms
	SendMode string `json:"send_mode"` // "ws" (sendmessage frames) or "rest" (PUT /chat)
	// Protocol is the server's client protocol: ProtocolChatapp (the
	// default) or ProtocolCentrifugo, whose sends are "ws" only.
	Protocol string  `json:"protocol,omitempty"`
	Window   int     `json:"window"` // most sends a sender has unacknowledged
	Rate     float64 `json:"rate"`   // messages a second over all senders; 0 is as fast as acknowledged
	Size     int     `json:"size"`   // message text bytes (at least the ~40 of the header)

	Duration time.Duration `json:"duration_ns"` // of sending
	Drain    time.Duration `json:"drain_ns"`    // most time to wait for deliveries after sending
	Settle   time.Duration `json:"settle_ns"`   // pause between connecting and measuring

	// Steps are the connection counts of the connections scenario.
	Steps              []int    `json:"steps,omitempty"`
	ConnectConcurrency int      `json:"connect_concurrency"` // dials in flight per process
	SourceAddrs        []string `json:"source_addrs,omitempty"`
	// Workers is the number of worker processes holding members (0: this
	// process); WorkerCommand runs one (default: this executable "worker").
	Workers       int      `json:"workers"`
	WorkerCommand []string `json:"-"`
	WorkerEnv     []string `json:"-"`

	// PprofURL is the server's base URL of /debug/pprof/ (default: URL);
	// with CPUProfile a CPU profile of ProfileSeconds is fetched during the
	// measured phase.
	PprofURL       string `json:"pprof_url,omitempty"`
	CPUProfile     string `json:"cpu_profile,omitempty"`
	ProfileSeconds int    `json:"profile_seconds,omitempty"`
	// HeapProfile, for the connections scenario, is where to write the
	// server's heap profile with every connection open.
	HeapProfile string        `json:"heap_profile,omitempty"`
	Timeout     time.Duration `json:"timeout_ns"` // of the whole run
	Log         io.Writer     `json:"-"`
}

// Defaults returns a scenario's configuration at full scale.
func Defaults(scenario string) (Config, error) {
	c := Config{Scenario: scenario, SendMode: "ws", Size: 64, Drain: 15 * time.Second, Settle: time.Second,
		ConnectConcurrency: 64, Timeout: 10 * time.Minute, Window: 16}
	switch scenario {
	case "fanout":
		c.Members, c.Rooms, c.Senders, c.Window, c.Duration = 1000, 1, 16, 4, 10*time.Second
	case "latency":
		c.Members, c.Rooms, c.Senders, c.Rate, c.Duration = 1000, 1, 1, 20, 30*time.Second
	case "sends":
		// Two senders and one more member per room: the scenario measures
		// acknowledged sends; fan-out has its own. (--members 300
		// --senders 100 is the heavier mix of BENCHMARKS.md.)
		c.Members, c.Rooms, c.Senders, c.Window, c.Duration = 100, 100, 200, 16, 10*time.Second
	case "connections":
		c.Rooms, c.Steps, c.Workers, c.ConnectConcurrency, c.Settle = 100, []int{1000, 5000, 10000, 19000}, 4, 32, 2*time.Second
		c.SourceAddrs = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}
		c.Duration, c.ProfileSeconds = 0, 20
	default:
		return c, fmt.Errorf("unknown scenario %q: want one of %s", scenario, strings.Join(Scenarios, ", "))
	}
	return c, nil
}

// Machine describes the host.
type Machine struct {
	NProc     int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	MemTotal  string `json:"mem_total"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	OpenFiles uint64 `json:"open_files_limit"`
}

// ServerUsage is the resources of processes over the measured phase: a
// server, the nodes of a cluster together (their samples summed), the
// broker, or the store with its child processes.
type ServerUsage struct {
	PIDs       []int      `json:"pids"`
	Before     ProcSample `json:"before"`
	After      ProcSample `json:"after"`
	CPUSeconds float64    `json:"cpu_seconds"`
	CPUPercent float64    `json:"cpu_percent"` // 100 is one core
	RSSDeltaKB int64      `json:"rss_delta_kb"`
	// CPUPer1000Messages is CPUSeconds per 1,000 acknowledged messages,
	// in the scenarios that send.
	CPUPer1000Messages float64 `json:"cpu_seconds_per_1000_messages,omitempty"`
}

// Sends is what the senders did.
type Sends struct {
	Senders    int      `json:"senders"`
	Mode       string   `json:"mode"`
	Sent       int64    `json:"sent"`
	Acked      int64    `json:"acked"`
	Failed     int64    `json:"failed"`
	PerSecond  float64  `json:"acked_per_sec"`
	AckLatency Latency  `json:"ack_latency"` // send to REST 200 or own push
	Errors     []string `json:"errors,omitempty"`
}

// Deliveries is what the members received.
type Deliveries struct {
	Members   int         `json:"members"`
	Expected  int64       `json:"expected"` // acknowledged messages times their rooms' members
	Received  int64       `json:"received"`
	Lost      int64       `json:"lost"` // expected deliveries not received within the drain time
	PerSecond float64     `json:"per_sec"`
	Check     CheckResult `json:"check"`
	// Latency is send to receive over every delivery.
	Latency Latency `json:"latency"`
}

// ConnectionStep is one point of the connections curve.
type ConnectionStep struct {
	Target         int     `json:"target"`
	Open           int     `json:"open"`
	Added          int     `json:"added"`
	Failed         int     `json:"failed"`
	ConnectSeconds float64 `json:"connect_seconds"`
	ConnectPerSec  float64 `json:"connect_per_sec"`
	Handshake      Latency `json:"handshake"`
	// ServerCPUPerConnUS is the server's CPU over the step per connection
	// opened (every node's); ClientCPUPerConnUS, the load generator's. With
	// both servers at the same connect rate, the load generator is the
	// bound, and the server's CPU per connection says what it could take.
	ServerCPUPerConnUS float64  `json:"server_cpu_per_conn_us"`
	ClientCPUPerConnUS float64  `json:"client_cpu_per_conn_us"`
	ServerRSSKB        int64    `json:"server_rss_kb"`
	RSSPerConnB        float64  `json:"rss_per_conn_bytes"` // (RSS now - RSS before any) / open
	ServerFDs          int      `json:"server_fds"`
	ServerThreads      int64    `json:"server_threads"`
	Errors             []string `json:"errors,omitempty"`
}

// Target is one goal and whether the run met it.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured float64 `json:"measured"`
	Met      bool    `json:"met"`
}

// Result is a run's outcome, the JSON file chatbench writes.
type Result struct {
	Scenario    string        `json:"scenario"`
	StartedAt   time.Time     `json:"started_at"`
	WallSeconds float64       `json:"wall_seconds"`
	Machine     Machine       `json:"machine"`
	Config      Config        `json:"config"`
	ServerURLs  []string      `json:"server_urls"`
	Server      *ServerUsage  `json:"server,omitempty"` // every node together
	Nodes       []ServerUsage `json:"nodes,omitempty"`  // each node, with more than one
	Broker      *ServerUsage  `json:"broker,omitempty"`
	Store       *ServerUsage  `json:"store,omitempty"`
	// BrokerTraffic and StoreWrites are the broker's and the store's
	// counters over the measured phase, with --broker-monitor and
	// --store-url.
	BrokerTraffic *BrokerTraffic   `json:"broker_traffic,omitempty"`
	StoreWrites   *StoreWrites     `json:"store_writes,omitempty"`
	ClientCPU     float64          `json:"client_cpu_seconds"` // load generator processes, over the measured phase
	Sends         *Sends           `json:"sends,omitempty"`
	Deliveries    *Deliveries      `json:"deliveries,omitempty"`
	Connections   []ConnectionStep `json:"connections,omitempty"`
	Targets       []Target         `json:"targets"`
	// Complete is true when every acknowledged message reached every member
	// of its room, no connection was dropped and nothing failed.
	Complete bool     `json:"complete"`
	Errors   []string `json:"errors,omitempty"`
}

// WriteFile writes r as indented JSON.
func (r *Result) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func machine() Machine {
	m := Machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				m.MemTotal = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.OpenFiles, _ = RaiseFileLimit()
	return m
}

// run is one run's state.
type run struct {
	cfg    Config
	res    *Result
	groups []group
	runID  string
	log    io.Writer
	http   *http.Client
	wire   wire
}

func (r *run) logf(format string, args ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, "chatbench: "+format+"\n", args...)
	}
}

// Run runs one scenario and returns its result; an error means the run
// could not be carried out (the result, if any, says how far it got).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	w, err := wireOf(cfg.Protocol)
	if err != nil {
		return nil, err
	}
	if cfg.Protocol == ProtocolCentrifugo && cfg.SendMode == "rest" {
		return nil, errors.New("--send-mode rest: Centrifugo is driven over WebSocket only")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := &run{cfg: cfg, log: cfg.Log, runID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36), wire: w}
	r.res = &Result{Scenario: cfg.Scenario, StartedAt: time.Now(), Machine: machine(), Config: cfg, Targets: []Target{}}
	start := time.Now()
	defer func() { r.res.WallSeconds = time.Since(start).Seconds() }()
	if cfg.ServeCmd != "" {
		s, err := StartServer(ctx, cfg.ServeCmd, cfg.Log)
		if err != nil {
			return r.res, err
		}
		defer s.Stop()
		r.cfg.URLs, r.cfg.ServerPIDs = []string{s.URL}, []int{s.PID}
		r.logf("started server pid %d at %s", s.PID, s.URL)
	}
	if len(r.cfg.URLs) == 0 {
		return r.res, errors.New("no server: give --url or --serve-cmd")
	}
	r.cfg.URLs = slices.Clone(r.cfg.URLs)
	for i, u := range r.cfg.URLs {
		r.cfg.URLs[i] = strings.TrimSuffix(u, "/")
	}
	if n := len(r.cfg.ServerPIDs); n > 0 && n != len(r.cfg.URLs) {
		return r.res, fmt.Errorf("%d server pids for %d servers: give one pid per URL, in the same order", n, len(r.cfg.URLs))
	}
	r.res.ServerURLs = r.cfg.URLs
	r.res.Config.URLs, r.res.Config.ServerPIDs = r.cfg.URLs, r.cfg.ServerPIDs
	r.http = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     30 * time.Second,
	}}
	defer r.http.CloseIdleConnections()
	if err := r.startGroups(); err != nil {
		return r.res, err
	}
	defer r.closeGroups()
	switch cfg.Scenario {
	case "fanout", "latency", "sends":
		err = r.traffic(ctx)
	case "connections":
		err = r.connections(ctx)
	default:
		err = fmt.Errorf("unknown scenario %q", cfg.Scenario)
	}
	if err != nil {
		r.res.Errors = append(r.res.Errors, err.Error())
	}
	return r.res, err
}

func (r *run) startGroups() error {
	if r.cfg.Workers <= 0 {
		r.groups = []group{newLocalGroup()}
		return nil
	}
	argv := r.cfg.WorkerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		argv = []string{exe, "worker"}
	}
	for i := 0; i < r.cfg.Workers; i++ {
		w, err := startWorker(argv, r.cfg.WorkerEnv)
		if err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		r.groups = append(r.groups, w)
	}
	r.logf("started %d worker processes", r.cfg.Workers)
	return nil
}

func (r *run) closeGroups() {
	var wg sync.WaitGroup
	for _, g := range r.groups {
		wg.Add(1)
		go func() { defer wg.Done(); g.Close() }()
	}
	wg.Wait()
}

func (r *run) roomNames() []string {
	rooms := make([]string, max(r.cfg.Rooms, 1))
	for i := range rooms {
		rooms[i] = fmt.Sprintf("bench-%s-%s-%d", r.cfg.Scenario, r.runID, i)
	}
	return rooms
}

// connect opens members from..to-1 spread over the groups, in parallel.
func (r *run) connect(ctx context.Context, rooms []string, from, to int) (ConnectResult, error) {
	n := to - from
	per := (n + len(r.groups) - 1) / len(r.groups)
	results := make([]ConnectResult, len(r.groups))
	errs := make([]error, len(r.groups))
	var wg sync.WaitGroup
	start := time.Now()
	for i, g := range r.groups {
		lo := from + i*per
		hi := min(lo+per, to)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = g.Connect(ctx, ConnectSpec{
				URLs: r.cfg.URLs, Rooms: rooms, Start: lo, Count: hi - lo, UserPrefix: "m" + r.runID + "-", Protocol: r.cfg.Protocol,
				SourceAddrs: r.cfg.SourceAddrs, Concurrency: r.cfg.ConnectConcurrency, Timeout: 3 * time.Minute,
			})
		}()
	}
	wg.Wait()
	total := ConnectResult{Elapsed: time.Since(start)}
	h := newHist()
	for _, c := range results {
		total.OK += c.OK
		total.Failed += c.Failed
		total.Errors = append(total.Errors, c.Errors...)
		if c.Handshake != nil {
			h.Merge(hdrhistogram.Import(c.Handshake))
		}
	}
	total.Handshake = h.Export()
	return total, errors.Join(errs...)
}

// check asks every group to compare receipts with expect.
func (r *run) check(ctx context.Context, expect map[string]Expect) (CheckResult, error) {
	var total CheckResult
	results := make([]CheckResult, len(r.groups))
	errs := make([]error, len(r.groups))
	var wg sync.WaitGroup
	for i, g := range r.groups {
		wg.Add(1)
		go func() { defer wg.Done(); results[i], errs[i] = g.Check(ctx, expect) }()
	}
	wg.Wait()
	for _, c := range results {
		total.add(c)
	}
	return total, errors.Join(errs...)
}

// report gathers every group's histogram and process usage.
func (r *run) report(ctx context.Context) (GroupReport, float64, error) {
	total := GroupReport{}
	h := newHist()
	cpu := 0.0
	for _, g := range r.groups {
		rep, err := g.Report(ctx)
		if err != nil {
			return total, 0, err
		}
		if rep.Latency != nil {
			h.Merge(hdrhistogram.Import(rep.Latency))
		}
		total.Deliveries += rep.Deliveries
		if rep.FirstRecvNs != 0 && (total.FirstRecvNs == 0 || rep.FirstRecvNs < total.FirstRecvNs) {
			total.FirstRecvNs = rep.FirstRecvNs
		}
		total.LastRecvNs = max(total.LastRecvNs, rep.LastRecvNs)
		cpu += rep.Proc.CPUSeconds
	}
	if r.cfg.Workers > 0 {
		self, _ := ReadProc(0)
		cpu += self.CPUSeconds
	}
	total.Latency = h.Export()
	return total, cpu, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
