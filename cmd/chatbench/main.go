// Command chatbench is the load generator of chatapp: many WebSocket clients
// of a `chatapp serve` over loopback, in the scenarios of BENCHMARKS.md.
//
//	chatbench fanout      [flags]   one room of 1,000 members, senders at saturation
//	chatbench latency     [flags]   one room of 1,000 members, 20 messages/s
//	chatbench connections [flags]   idle connections in 100 rooms, step by step
//	chatbench sends       [flags]   acknowledged sends over 100 rooms
//
// Give the server with --url (and --server-pid for its RSS and CPU), or let
// chatbench start it with --serve-cmd. A cluster's nodes are a list of
// URLs and pids, with --broker-pid and --store-pid for the cost of NATS
// and PostgreSQL (bench/cluster.sh runs it so). --protocol centrifugo
// drives Centrifugo instead (bench/centrifugo.sh, bench/versus.sh). Each run is bounded
// (--duration, --drain, --timeout), prints a summary and writes --out as
// JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/chatapp-dev/chatapp/bench"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: chatbench %s [flags]   (chatbench SCENARIO -h for the flags)\n", strings.Join(bench.Scenarios, "|"))
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("no scenario")
	}
	if args[0] == "worker" {
		// Started by a coordinator: members over stdin/stdout JSON.
		return bench.WorkerMain(os.Stdin, os.Stdout)
	}
	scenario := args[0]
	cfg, err := bench.Defaults(scenario)
	if err != nil {
		usage(stderr)
		return err
	}
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("url", "", "server base URL, e.g. http://127.0.0.1:8080; a cluster's nodes comma-separated, over which members and senders are spread")
	fs.StringVar(&cfg.ServeCmd, "serve-cmd", "", `start the server: a command line (no shell), {data} becomes a temporary directory, e.g. "/tmp/chatapp serve --addr 127.0.0.1:0 --data {data} --send-rate 0 --frame-rate 0 --max-connections-per-user 0"`)
	pids := fs.String("server-pid", "", "pid of the server given by --url, for its RSS and CPU; a cluster's, comma-separated in the order of --url")
	fs.IntVar(&cfg.BrokerPID, "broker-pid", 0, "pid of the cluster's nats-server, for its CPU")
	fs.IntVar(&cfg.StorePID, "store-pid", 0, "pid of the cluster's PostgreSQL postmaster, for the CPU of it and its child processes")
	fs.StringVar(&cfg.BrokerMonitorURL, "broker-monitor", "", "nats-server's monitoring address (its -m PORT), e.g. http://127.0.0.1:8222, for the messages and bytes it carried")
	fs.StringVar(&cfg.StoreURL, "store-url", "", "the cluster's database, e.g. postgres://postgres@127.0.0.1:5433/postgres, for its write transactions and WAL bytes")
	fs.IntVar(&cfg.Members, "members", cfg.Members, "receiving connections")
	fs.IntVar(&cfg.Rooms, "rooms", cfg.Rooms, "rooms the members and senders are spread over")
	fs.IntVar(&cfg.Senders, "senders", cfg.Senders, "senders (sender i sends to room i%rooms)")
	fs.StringVar(&cfg.Protocol, "protocol", bench.ProtocolChatapp, "the server's client protocol: chatapp, or centrifugo (Centrifugo's JSON protocol at /connection/websocket, rooms as channels chat:ROOM; bench/centrifugo.sh)")
	fs.StringVar(&cfg.SendMode, "send-mode", cfg.SendMode, "ws (sendmessage frames, acknowledged by the sender's own push) or rest (PUT /chat)")
	fs.IntVar(&cfg.Window, "window", cfg.Window, "most unacknowledged sends per sender")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "messages a second over all senders (0: as fast as acknowledged)")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "message text bytes")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to send")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "most time to wait for deliveries after sending")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "pause after connecting, before measuring")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound of the whole run")
	steps := fs.String("steps", joinInts(cfg.Steps), "connections scenario: the connection counts to measure at")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", cfg.ConnectConcurrency, "dials in flight per process")
	sources := fs.String("source-addrs", strings.Join(cfg.SourceAddrs, ","), "source addresses to dial from, comma-separated, or a count N for 127.0.0.1..127.0.0.N")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "worker processes holding the members (0: this process)")
	fs.StringVar(&cfg.PprofURL, "pprof-url", "", "base URL of the server's /debug/pprof/ for --cpu-profile (default: the server URL; chatapp serve --pprof)")
	fs.StringVar(&cfg.CPUProfile, "cpu-profile", "", "write a CPU profile of the server during the measured phase to this file")
	fs.IntVar(&cfg.ProfileSeconds, "profile-seconds", cfg.ProfileSeconds, "length of the CPU profile (default: the sending duration)")
	fs.StringVar(&cfg.HeapProfile, "heap-profile", "", "connections scenario: write the server's heap profile with every connection open to this file")
	out := fs.String("out", "", "write the result JSON here (default chatbench-SCENARIO.json)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	clientProfile := fs.String("client-profile", "", "write a CPU profile of this process (the load generator, with --workers 0) over the whole run to this file: its share of the machine is the server's rival")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if cfg.Steps, err = parseInts(*steps); err != nil {
		return fmt.Errorf("--steps: %w", err)
	}
	cfg.URLs = parseList(*urls)
	if cfg.ServerPIDs, err = parseInts(*pids); err != nil {
		return fmt.Errorf("--server-pid: %w", err)
	}
	if cfg.SourceAddrs, err = parseSources(*sources); err != nil {
		return fmt.Errorf("--source-addrs: %w", err)
	}
	if cfg.SendMode != "ws" && cfg.SendMode != "rest" {
		return fmt.Errorf("--send-mode %q: want ws or rest", cfg.SendMode)
	}
	if !*quiet {
		cfg.Log = stderr
	}
	if *out == "" {
		*out = "chatbench-" + scenario + ".json"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *clientProfile != "" {
		f, err := os.Create(*clientProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, runErr := bench.Run(ctx, cfg)
	if res != nil {
		if err := res.WriteFile(*out); err != nil {
			return err
		}
		summary(stdout, res, *out)
	}
	return runErr
}

func summary(w io.Writer, r *bench.Result, out string) {
	fmt.Fprintf(w, "%s on %d × %s (%s):\n", r.Scenario, r.Machine.NProc, r.Machine.CPUModel, r.Machine.GoVersion)
	if d := r.Deliveries; d != nil {
		fmt.Fprintf(w, "  deliveries %d of %d expected (%d lost, %d duplicates, %d connections dropped), %.0f/s\n",
			d.Received, d.Expected, d.Lost, d.Check.Duplicates, d.Check.Dropped, d.PerSecond)
		if d.Latency.Count > 0 {
			fmt.Fprintf(w, "  send→receive p50 %.2f ms  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f (%d samples)\n",
				d.Latency.P50MS, d.Latency.P90MS, d.Latency.P99MS, d.Latency.P999MS, d.Latency.MaxMS, d.Latency.Count)
		}
	}
	if s := r.Sends; s != nil {
		fmt.Fprintf(w, "  sends %d, acknowledged %d (%.0f/s), failed %d; ack p50 %.2f ms p99 %.2f ms\n",
			s.Sent, s.Acked, s.PerSecond, s.Failed, s.AckLatency.P50MS, s.AckLatency.P99MS)
	}
	for _, c := range r.Connections {
		fmt.Fprintf(w, "  %6d open: +%d in %.2fs = %.0f conn/s, handshake p50 %.1f ms p99 %.1f ms, server RSS %d KB = %.0f B/conn\n",
			c.Open, c.Added, c.ConnectSeconds, c.ConnectPerSec, c.Handshake.P50MS, c.Handshake.P99MS, c.ServerRSSKB, c.RSSPerConnB)
	}
	resources(w, "server", r.Server)
	for i := range r.Nodes {
		resources(w, fmt.Sprintf("  node%d", i+1), &r.Nodes[i])
	}
	resources(w, "broker", r.Broker)
	resources(w, "store", r.Store)
	if t := r.BrokerTraffic; t != nil {
		fmt.Fprintf(w, "  broker per message: %.2f msgs in (%.0f B), %.2f out (%.0f B)\n",
			t.InMsgsPerMessage, t.InBytesPerMessage, t.OutMsgsPerMessage, t.OutBytesPerMessage)
	}
	if s := r.StoreWrites; s != nil {
		fmt.Fprintf(w, "  store per message: %.3f write transactions, %.0f WAL bytes\n",
			s.WriteTransactionsPerMessage, s.WALBytesPerMessage)
	}
	fmt.Fprintf(w, "  load generator CPU %.1f s\n", r.ClientCPU)
	for _, t := range r.Targets {
		mark := "MISSED"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(w, "  target %-32s %-10s measured %-12.2f %s\n", t.Name, t.Goal, t.Measured, mark)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	b, _ := json.Marshal(r.Complete)
	fmt.Fprintf(w, "  complete: %s; result in %s\n", b, out)
}

// resources prints what processes used, on one line.
func resources(w io.Writer, name string, u *bench.ServerUsage) {
	if u == nil {
		return
	}
	per := ""
	if u.CPUPer1000Messages > 0 {
		per = fmt.Sprintf(" = %.3f s per 1,000 messages", u.CPUPer1000Messages)
	}
	fmt.Fprintf(w, "  %s pid %s: CPU %.1f s (%.0f%% of a core)%s, RSS %d → %d KB (peak %d KB)\n",
		name, joinInts(u.PIDs), u.CPUSeconds, u.CPUPercent, per, u.Before.RSSKB, u.After.RSSKB, u.After.HWMKB)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range parseList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseList splits a comma-separated list, dropping empty items.
func parseList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseSources(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 254 {
			return nil, fmt.Errorf("count %d out of 1..254", n)
		}
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("127.0.0.%d", i+1)
		}
		return out, nil
	}
	out := parseList(s)
	for _, f := range out {
		if !strings.HasPrefix(f, "127.") {
			return nil, fmt.Errorf("%q is not a loopback address", f)
		}
	}
	return out, nil
}
