// Package natslocal runs a NATS server for tests: one per test that asks,
// on a free port of 127.0.0.1, killed when the test ends. Restart kills it
// and starts it again on the same address, as an operator's restart of
// the broker looks to its clients. It runs the nats-server that
// scripts/nats.sh installs into .cache/bin, or one on PATH (Debian's
// nats-server package).
package natslocal

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// startTimeout bounds the wait for the server to greet a client.
const startTimeout = 30 * time.Second

// Server is a running nats-server.
type Server struct {
	URL        string // nats://127.0.0.1:PORT
	MonitorURL string // its monitoring endpoints (/varz): http://127.0.0.1:PORT
	bin        string
	port       int
	monitor    int
	log        string // the server's output, for an error message
	cmd        *exec.Cmd
	exited     <-chan struct{}
}

// Start starts a server for t, killed when t ends. It skips t when no
// nats-server is installed, or fails it if the environment variable CI is
// "true".
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	component.Require(t, "nats-server", err, "run scripts/nats.sh (or make deps)")
	s := &Server{bin: bin, log: filepath.Join(t.TempDir(), "nats-server.log")}
	// The free port may be taken between our check and the server's bind:
	// try a few.
	for attempt := 1; ; attempt++ {
		if s.port, err = component.FreePort(); err == nil {
			s.monitor, err = component.FreePort()
		}
		if err == nil {
			if err = s.start(); err == nil {
				break
			}
		}
		if attempt == 3 {
			t.Fatalf("nats-server: %v", err)
		}
	}
	s.URL = "nats://127.0.0.1:" + strconv.Itoa(s.port)
	s.MonitorURL = "http://127.0.0.1:" + strconv.Itoa(s.monitor)
	t.Cleanup(s.Stop)
	return s
}

// Restart kills the server and starts it again on the same port; the
// clients' connections break and they reconnect.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("nats-server restart: %v", err)
	}
}

// Stop kills the server (as kill -9 does) and waits for it. A stopped
// server may be started again by Restart.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// start runs the server on s.port and waits until it greets a client.
func (s *Server) start() error {
	out, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-m", strconv.Itoa(s.monitor))
	cmd.Stdout, cmd.Stderr = out, out
	exited, err := component.Start(cmd)
	if err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(); err != nil {
		s.Stop()
		logText, _ := os.ReadFile(s.log)
		return fmt.Errorf("%v\nserver output:\n%s", err, logText)
	}
	return nil
}

// waitReady dials the server until it sends its INFO greeting, it exits
// or time is up.
func (s *Server) waitReady() error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	deadline := time.Now().Add(startTimeout)
	for {
		if greeted(addr) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no greeting on %s within %v", addr, startTimeout)
		}
		select {
		case <-s.exited:
			return errors.New("nats-server exited before greeting")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func greeted(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

// Installed reports, as an error (component.Unavailable) for
// component.Require, whether there is a nats-server to run: for a test
// that starts one through a script of its own (scripts/cluster.sh).
func Installed() error {
	_, err := binary()
	return err
}

// binary finds nats-server: scripts/nats.sh's, else one on PATH.
func binary() (string, error) {
	if root, err := reporoot.Find(); err == nil {
		path := filepath.Join(root, ".cache", "bin", "nats-server")
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	if path, err := exec.LookPath("nats-server"); err == nil {
		return path, nil
	}
	return "", component.Unavailable("no nats-server in .cache/bin or on PATH")
}
