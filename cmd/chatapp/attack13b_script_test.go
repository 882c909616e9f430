// Attack 13b: scripts/cluster.sh's `-- COMMAND` against a port that
// something else already serves.

package main

import (
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestAttackClusterScriptPortTaken: another server answers /healthz with
// 200 on the port of the cluster's node (a second cluster.sh, a dev
// server). The node cannot bind it and exits, yet healthy() asks the port,
// not the node, so the script prints the cluster up and runs the command
// against the other server (bench/cluster.sh would measure it), and exits
// with the command's status. It should say the node did not come up and
// exit non-zero without running the command.
func TestAttackClusterScriptPortTaken(t *testing.T) {
	component.Require(t, "PostgreSQL", pglocal.Installed(), "run scripts/postgres.sh (or make deps)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "cluster.sh"), "--log-level", "warn",
		"--", "bash", "-c", "echo command-ran; exit 0")
	cmd.Env = append(gobuild.Env(),
		"CLUSTER_NODES=1", "CLUSTER_BROKER=off",
		"CLUSTER_PORT="+strconv.Itoa(port),
		"CLUSTER_POSTGRES_PORT="+strconv.Itoa(freePort(t)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &testLogWriter{t: t}
	cmd.Stderr = logs
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		logs.stop()
	})
	cmd.WaitDelay = 30 * time.Second
	timer := time.AfterFunc(5*time.Minute, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) })
	out, _ := cmd.Output()
	timer.Stop()
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("scripts/cluster.sh exited 0 with its only node unable to bind 127.0.0.1:%d (the other server answered %d requests); output:\n%s",
			port, asked.Load(), out)
	}
}
