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
