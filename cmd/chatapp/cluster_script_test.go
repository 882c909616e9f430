package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
	"github.com/chatapp-dev/chatapp/internal/natslocal"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestClusterScript runs scripts/cluster.sh (`make cluster`) on free ports:
// it prints the URLs of 3 nodes, each answers /healthz, a message sent to
// one node is pushed to a member on another, and on Ctrl-C (SIGINT) the
// script stops every node, the broker and the database, and exits.
func TestClusterScript(t *testing.T) {
	component.Require(t, "PostgreSQL", pglocal.Installed(), "run scripts/postgres.sh (or make deps)")
	component.Require(t, "nats-server", natslocal.Installed(), "run scripts/nats.sh (or make deps)")
	first := consecutiveFreePorts(t, 3)
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "cluster.sh"))
	cmd.Env = append(gobuild.Env(),
		"CLUSTER_PORT="+strconv.Itoa(first),
		"CLUSTER_NATS_PORT="+strconv.Itoa(freePort(t)),
		"CLUSTER_POSTGRES_PORT="+strconv.Itoa(freePort(t)))
	// Its own process group, so that the test's end can kill what is left
	// of it if it does not stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &testLogWriter{t: t}
	cmd.Stderr = logs
	// A pipe of our own, not StdoutPipe: Wait must not wait for its reader.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan []string, 1)
	go func() { exited <- cmd.Wait() }()
	go func() { urls <- readClusterURLs(stdout, logs) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a no-op once the script stopped
		logs.stop()
	})

	var nodes []string
	select {
	case nodes = <-urls:
	case err := <-exited:
		t.Fatalf("scripts/cluster.sh exited before its nodes were up: %v", err)
	case <-time.After(5 * time.Minute): // it builds chatapp first
		t.Fatal("scripts/cluster.sh printed no nodes within 5 minutes")
	}
	if len(nodes) != 3 {
		t.Fatalf("scripts/cluster.sh printed the nodes %v, want 3", nodes)
	}
	for i, node := range nodes {
		if want := fmt.Sprintf("http://127.0.0.1:%d", first+i); node != want {
			t.Errorf("node %d is %s, want %s", i+1, node, want)
		}
		if r := do(t, http.MethodGet, node+"/healthz", nil, nil); r.Status != http.StatusOK {
			t.Errorf("%s/healthz: %d %s", node, r.Status, r.Body)
		}
	}
	member := dial(t, nodes[2], "member", originalQuery("member", "scripted"))
	sent, _ := putMessage(t, nodes[0], "scripted", "sender", "Sender", "across the script's cluster")["message"].(map[string]any)
	if got := member.nextMessage(); got.ID != sent["id"] {
		t.Errorf("the member on node 3 got %+v, want the message sent on node 1 (%v)", got, sent["id"])
	}
	member.close()

	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("scripts/cluster.sh exited with %v on Ctrl-C, want 130", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("scripts/cluster.sh did not stop within a minute of Ctrl-C")
	}
	for _, node := range nodes {
		if _, err := tryDo(http.MethodGet, node+"/healthz", nil, nil); err == nil {
			t.Errorf("%s still answers after Ctrl-C", node)
		}
	}
}

// TestClusterScriptRunsCommand runs scripts/cluster.sh with a command
// after `--`, as bench/cluster.sh does: the command finds the cluster in
// its environment (the nodes' URLs and pids, the database's URL, the
// postmaster's pid, nats-server's and its monitoring address, or none of
// the broker with CLUSTER_BROKER=off), the script exits with the command's
// status, and nothing it started runs after it.
func TestClusterScriptRunsCommand(t *testing.T) {
	component.Require(t, "PostgreSQL", pglocal.Installed(), "run scripts/postgres.sh (or make deps)")
	component.Require(t, "nats-server", natslocal.Installed(), "run scripts/nats.sh (or make deps)")
	// What the command prints: its environment, and each pid's command name.
	const command = `for v in CLUSTER_URLS CLUSTER_NODE_PIDS CLUSTER_POSTGRES_URL CLUSTER_POSTGRES_PID CLUSTER_NATS_PID CLUSTER_NATS_MONITOR; do
	echo "$v=${!v}"
done
for pid in ${CLUSTER_NODE_PIDS//,/ } $CLUSTER_POSTGRES_PID $CLUSTER_NATS_PID; do
	echo "pid $pid $(cat /proc/$pid/comm)"
done
exit 3`
	for _, c := range []struct {
		name   string
		nodes  int
		broker bool
	}{{"3 nodes and NATS", 3, true}, {"1 node, no broker", 1, false}} {
		t.Run(c.name, func(t *testing.T) {
			first := consecutiveFreePorts(t, c.nodes)
			monitor := freePort(t)
			env := []string{
				"CLUSTER_NODES=" + strconv.Itoa(c.nodes),
				"CLUSTER_PORT=" + strconv.Itoa(first),
				"CLUSTER_NATS_PORT=" + strconv.Itoa(freePort(t)),
				"CLUSTER_NATS_MONITOR_PORT=" + strconv.Itoa(monitor),
				"CLUSTER_POSTGRES_PORT=" + strconv.Itoa(freePort(t)),
			}
			if !c.broker {
				env = append(env, "CLUSTER_BROKER=off")
			}
			run := runClusterScript(t, env, command)
			if run.code != 3 {
				t.Fatalf("scripts/cluster.sh exited with %d, want the command's 3; output:\n%s", run.code, run.stdout)
			}

			vars := map[string]string{}
			comm := map[int]string{}
			for _, line := range strings.Split(run.stdout, "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CLUSTER_") {
					vars[k] = v
				}
				var pid int
				var name string
				if n, _ := fmt.Sscanf(line, "pid %d %s", &pid, &name); n == 2 {
					comm[pid] = name
				}
			}
			var wantURLs []string
			for i := range c.nodes {
				wantURLs = append(wantURLs, fmt.Sprintf("http://127.0.0.1:%d", first+i))
			}
			if got := vars["CLUSTER_URLS"]; got != strings.Join(wantURLs, ",") {
				t.Errorf("CLUSTER_URLS=%s, want %s", got, strings.Join(wantURLs, ","))
			}
			if !strings.HasPrefix(vars["CLUSTER_POSTGRES_URL"], "postgres://postgres@127.0.0.1:") {
				t.Errorf("CLUSTER_POSTGRES_URL=%s", vars["CLUSTER_POSTGRES_URL"])
			}
			want := map[string]string{"CLUSTER_POSTGRES_PID": "postgres"}
			if c.broker {
				want["CLUSTER_NATS_PID"] = "nats-server"
				if got, wantMonitor := vars["CLUSTER_NATS_MONITOR"], fmt.Sprintf("http://127.0.0.1:%d", monitor); got != wantMonitor {
					t.Errorf("CLUSTER_NATS_MONITOR=%s, want %s", got, wantMonitor)
				}
			} else if vars["CLUSTER_NATS_PID"] != "" || vars["CLUSTER_NATS_MONITOR"] != "" {
				t.Errorf("without a broker: CLUSTER_NATS_PID=%s CLUSTER_NATS_MONITOR=%s, want both empty", vars["CLUSTER_NATS_PID"], vars["CLUSTER_NATS_MONITOR"])
			}
			var pids []int
			nodePIDs := strings.Split(vars["CLUSTER_NODE_PIDS"], ",")
			if len(nodePIDs) != c.nodes {
				t.Errorf("CLUSTER_NODE_PIDS=%s, want %d", vars["CLUSTER_NODE_PIDS"], c.nodes)
			}
			for _, s := range nodePIDs {
				pid, _ := strconv.Atoi(s)
				if comm[pid] != "chatapp" {
					t.Errorf("node pid %d is %q, want chatapp", pid, comm[pid])
				}
				pids = append(pids, pid)
			}
			for k, name := range want {
				pid, _ := strconv.Atoi(vars[k])
				if comm[pid] != name {
					t.Errorf("%s=%s is %q, want %s", k, vars[k], comm[pid], name)
				}
				pids = append(pids, pid)
			}
			// The postmaster removes its pid file, which pg_ctl stop waits
			// for, a moment before it exits.
			deadline := time.Now().Add(30 * time.Second)
			for _, pid := range pids {
				for running(pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if running(pid) {
					t.Errorf("pid %d (%s) still runs 30 s after the script", pid, comm[pid])
				}
			}
		})
	}
}

// running reports whether process pid runs (a zombie has exited).
func running(pid int) bool {
	_, state, _, _, ok := procStat(pid)
	return ok && state != 'Z'
}

// clusterNodeLine is the line of each node in scripts/cluster.sh's list.
var clusterNodeLine = regexp.MustCompile(`^  node\d+  (http://\S+)/$`)

// readClusterURLs reads the script's output until its "Press Ctrl-C" and
// returns the nodes' URLs it listed; the rest goes to the log.
func readClusterURLs(stdout io.Reader, log io.Writer) []string {
	var urls []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		fmt.Fprintln(log, line)
		if m := clusterNodeLine.FindStringSubmatch(line); m != nil {
			urls = append(urls, m[1])
		}
		if line == "Press Ctrl-C to stop." {
			break
		}
	}
	go func() { // the rest, until the script ends
		for lines.Scan() {
			fmt.Fprintln(log, lines.Text())
		}
	}()
	return urls
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := component.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// consecutiveFreePorts returns the first of n ports of 127.0.0.1 in a row
// that are free now.
func consecutiveFreePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		first := freePort(t)
		if first+n > 65535 {
			continue
		}
		free := true
		for p := first + 1; p < first+n && free; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if free = err == nil; free {
				l.Close()
			}
		}
		if free {
			return first
		}
	}
	t.Fatalf("no %d free ports in a row", n)
	return 0
}

// TestClusterScriptRefusesATakenPort: another server already answers
// /healthz with 200 on a node's port (a second cluster.sh, a dev server),
// or holds the NATS port. A node that cannot bind exits, and one on a
// foreign broker runs against the wrong cluster, while what holds the port
// answers: the script must refuse, not run the command (which bench/
// cluster.sh would measure) and exit 0.
func TestClusterScriptRefusesATakenPort(t *testing.T) {
	component.Require(t, "PostgreSQL", pglocal.Installed(), "run scripts/postgres.sh (or make deps)")
	component.Require(t, "nats-server", natslocal.Installed(), "run scripts/nats.sh (or make deps)")
	for _, taken := range []string{"CLUSTER_PORT", "CLUSTER_NATS_PORT"} {
		t.Run(taken, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var asked atomic.Int64
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1) })}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			port := ln.Addr().(*net.TCPAddr).Port

			env := []string{"CLUSTER_NODES=1", "CLUSTER_POSTGRES_PORT=" + strconv.Itoa(freePort(t))}
			if taken == "CLUSTER_PORT" {
				env = append(env, "CLUSTER_BROKER=off", "CLUSTER_PORT="+strconv.Itoa(port))
			} else {
				env = append(env, "CLUSTER_PORT="+strconv.Itoa(freePort(t)), "CLUSTER_NATS_PORT="+strconv.Itoa(port))
			}
			run := runClusterScript(t, env, "echo command-ran; exit 0")
			if run.code == 0 || strings.Contains(run.stdout, "command-ran") {
				t.Errorf("scripts/cluster.sh exited %d with %s=%d taken (the other server answered %d requests); output:\n%s",
					run.code, taken, port, asked.Load(), run.stdout)
			}
			if inUse := regexp.MustCompile(fmt.Sprintf(`127\.0\.0\.1:%d \(.*\) is in use`, port)); !inUse.MatchString(run.stderr) {
				t.Errorf("scripts/cluster.sh did not name 127.0.0.1:%d as in use", port)
			}
		})
	}
}

// TestClusterScriptNoticesADeathDuringTheCommand: a node or nats-server
// that stops while the `--` command runs fails the script, even if the
// command succeeds: a benchmark's result would come from a smaller cluster.
func TestClusterScriptNoticesADeathDuringTheCommand(t *testing.T) {
	component.Require(t, "PostgreSQL", pglocal.Installed(), "run scripts/postgres.sh (or make deps)")
	component.Require(t, "nats-server", natslocal.Installed(), "run scripts/nats.sh (or make deps)")
	for _, c := range []struct{ name, pid string }{{"node1", "CLUSTER_NODE_PIDS"}, {"nats-server", "CLUSTER_NATS_PID"}} {
		t.Run(c.name, func(t *testing.T) {
			env := []string{
				"CLUSTER_NODES=1",
				"CLUSTER_PORT=" + strconv.Itoa(freePort(t)),
				"CLUSTER_NATS_PORT=" + strconv.Itoa(freePort(t)),
				"CLUSTER_POSTGRES_PORT=" + strconv.Itoa(freePort(t)),
			}
			// The script reaps its children: kill -0 fails once it has.
			command := fmt.Sprintf(`kill -KILL $%[1]s; while kill -0 $%[1]s 2>/dev/null; do sleep 0.05; done; exit 0`, c.pid)
			run := runClusterScript(t, env, command)
			if run.code == 0 {
				t.Errorf("scripts/cluster.sh exited 0 after %s stopped during the command", c.name)
			}
			if want := "stopped while the command ran: " + c.name; !strings.Contains(run.stderr, want) {
				t.Errorf("scripts/cluster.sh did not say %q", want)
			}
		})
	}
}

// clusterScriptRun is what a run of scripts/cluster.sh printed, and its
// exit code.
type clusterScriptRun struct {
	stdout, stderr string
	code           int
}

// runClusterScript runs `scripts/cluster.sh --log-level warn -- bash -c
// COMMAND` with env added to the environment, and waits for its end.
func runClusterScript(t *testing.T, env []string, command string) clusterScriptRun {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "cluster.sh"), "--log-level", "warn",
		"--", "bash", "-c", command)
	cmd.Env = append(gobuild.Env(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &testLogWriter{t: t}
	stderr := &lockedBuffer{}
	cmd.Stderr = io.MultiWriter(logs, stderr)
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a no-op once the script stopped
		}
		logs.stop()
	})
	// A script that does not end (one that ignores `--` waits for Ctrl-C)
	// is stopped by SIGTERM, whose trap stops the database too (pg_ctl
	// starts it in a session of its own, out of reach of the group's
	// SIGKILL); WaitDelay ends Output even if a process left holds its
	// stdout.
	cmd.WaitDelay = 30 * time.Second
	timer := time.AfterFunc(5*time.Minute, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }) // it builds chatapp first
	out, _ := cmd.Output()
	timer.Stop()
	return clusterScriptRun{stdout: string(out), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}
