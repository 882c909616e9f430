package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/internal/apispec"
	"github.com/chatapp-dev/chatapp/internal/dynamolocal"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
	"github.com/chatapp-dev/chatapp/internal/logtest"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// binDir holds the chatapp binary built by buildBinary; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := pglocal.Run(func() int { return dynamolocal.Main(m) })
	stopSharedBrowser()
	if checkSeenFrames() != 0 {
		code = 1
	}
	for _, dir := range []string{binDir, bootstrap.dir, unityBuild.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds the real chatapp command, once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "chatapp-e2e-")
		if err != nil {
			build.err = err
			return
		}
		binDir = dir
		path := filepath.Join(dir, "chatapp")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := gobuild.Command(ctx, "-o", path, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// lockedBuffer collects a process's or a server's output while the test
// reads it.
type lockedBuffer = logtest.Buffer

// process is a running `chatapp serve`.
type process struct {
	cmd    *exec.Cmd
	url    string
	stderr *logtest.Buffer
	exited chan struct{} // closed when Wait returns
	err    error         // Wait's result, set before exited closes
}

// startProcess runs `chatapp serve` on a free loopback port with the data
// directory dir and waits for the address it prints.
func startProcess(t *testing.T, bin, dir string) *process {
	t.Helper()
	return startServe(t, bin, nil, "--data", dir)
}

// startServe runs `chatapp serve` on a free loopback port with more flags
// and more environment (NAME=value), and waits for the address it prints.
func startServe(t *testing.T, bin string, env []string, flags ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, flags...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return startCommand(t, cmd)
}

// startCommand runs cmd, a `chatapp serve` on a free loopback port
// however it is started, and waits for the address it prints.
func startCommand(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	// Children that outlive the process (the emulators of --functions rie,
	// should they) hold its stderr open: Wait gives up on it after this.
	cmd.WaitDelay = waitTimeout
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &logtest.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		// Wait only after stdout is drained, as StdoutPipe requires.
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("chatapp stderr:\n%s", p.stderr.String())
		}
	})

	select {
	case line := <-first:
		const prefix = "chatapp is serving on "
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("first line of stdout %q, want %q...", line, prefix)
		}
		p.url = strings.TrimPrefix(line, prefix)
		if !strings.HasPrefix(p.url, "http://127.0.0.1:") || strings.HasSuffix(p.url, ":0") {
			t.Fatalf("serving on %q, want http://127.0.0.1:PORT", p.url)
		}
		apispec.Watch(t, p.url)
	case <-p.exited:
		t.Fatalf("chatapp exited before serving: %v\n%s", p.err, p.stderr.String())
	case <-time.After(2 * waitTimeout):
		t.Fatalf("chatapp printed no address within %v", 2*waitTimeout)
	}
	return p
}

// interrupt sends SIGINT and waits up to 10 s for a clean exit.
func (p *process) interrupt(t *testing.T) {
	t.Helper()
	p.stop(t, os.Interrupt)
}

// stop sends sig (SIGINT, SIGTERM) and waits up to 10 s for a clean exit:
// status 0.
func (p *process) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v", sig, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("chatapp did not exit within 10 s of %v", sig)
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		t.Fatalf("chatapp exited with %v after %v:\n%s", exitErr, sig, p.stderr.String())
	} else if p.err != nil {
		t.Fatalf("chatapp: %v", p.err)
	}
}

// TestProcess runs the real binary: the original client's flow over it,
// SIGINT closing clients with 1001 and exiting 0, and a restart on the same
// data finding the history.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chatapp binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")

	p := startProcess(t, bin, data)
	originalFlow(t, p.url, p.url, "procA", "procB")
	if _, err := os.Stat(filepath.Join(data, "chatapp.db")); err != nil {
		t.Errorf("no database in the data directory: %v", err)
	}

	c := dial(t, p.url, "connected", originalQuery("3001", "procA"))
	p.interrupt(t)
	c.expectClose(websocket.StatusGoingAway)

	p2 := startProcess(t, bin, data)
	h := getHistory(t, p2.url, "room_id=procA&")
	var texts []string
	for _, m := range h.Messages {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, "|") != "hello A|second A" {
		t.Errorf("history after restart: %q, want [hello A second A]", texts)
	}
	if users := getUsers(t, p2.url, "procA"); len(users) != 0 {
		t.Errorf("connections of the first run listed after restart: %+v", users)
	}
	p2.interrupt(t)
}
