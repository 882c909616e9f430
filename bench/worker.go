package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Worker processes hold members for the coordinator: it re-executes the
// load generator as a worker and speaks to it in JSON lines, one request on
// the worker's stdin, one response on its stdout. A worker exits when its
// stdin closes, so it never outlives the coordinator.

type workerRequest struct {
	Op      string            `json:"op"` // connect, check, report, close
	Connect *ConnectSpec      `json:"connect,omitempty"`
	Expect  map[string]Expect `json:"expect,omitempty"`
}

type workerResponse struct {
	Error   string         `json:"error,omitempty"`
	Connect *ConnectResult `json:"connect,omitempty"`
	Check   *CheckResult   `json:"check,omitempty"`
	Report  *GroupReport   `json:"report,omitempty"`
}

// WorkerMain serves one coordinator on in and out until in closes or it is
// told to close. The cmd/chatbench "worker" subcommand runs it.
func WorkerMain(in io.Reader, out io.Writer) error {
	RaiseFileLimit()
	g := newLocalGroup()
	defer g.Close()
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	ctx := context.Background()
	for {
		var req workerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var resp workerResponse
		switch req.Op {
		case "connect":
			if req.Connect == nil {
				resp.Error = "connect without a spec"
				break
			}
			r, err := g.Connect(ctx, *req.Connect)
			resp.Connect = &r
			if err != nil {
				resp.Error = err.Error()
			}
		case "check":
			r, err := g.Check(ctx, req.Expect)
			resp.Check = &r
			if err != nil {
				resp.Error = err.Error()
			}
		case "report":
			r, err := g.Report(ctx)
			resp.Report = &r
			if err != nil {
				resp.Error = err.Error()
			}
		case "close":
			if err := g.Close(); err != nil {
				resp.Error = err.Error()
			}
			enc.Encode(resp)
			return nil
		default:
			resp.Error = fmt.Sprintf("unknown op %q", req.Op)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
}

// remoteGroup is a worker process.
type remoteGroup struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	dec    *json.Decoder
	mu     sync.Mutex
	waited chan error
	stderr *tailBuffer
}

// startWorker runs argv (the load generator's worker mode) with env added.
func startWorker(argv []string, env []string) (*remoteGroup, error) {
	if len(argv) == 0 {
		return nil, errors.New("no worker command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w := &remoteGroup{cmd: cmd, stdin: stdin, dec: json.NewDecoder(bufio.NewReader(stdout)), waited: make(chan error, 1), stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { w.waited <- cmd.Wait() }()
	return w, nil
}

// call sends one request and waits for its response, or for ctx.
func (w *remoteGroup) call(ctx context.Context, req workerRequest) (workerResponse, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := json.Marshal(req)
	if _, err := w.stdin.Write(append(b, '\n')); err != nil {
		return workerResponse{}, fmt.Errorf("worker %d: %w (%s)", w.cmd.Process.Pid, err, w.stderr.String())
	}
	type result struct {
		resp workerResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		var r workerResponse
		err := w.dec.Decode(&r)
		ch <- result{r, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return r.resp, fmt.Errorf("worker %d: %w (%s)", w.cmd.Process.Pid, r.err, w.stderr.String())
		}
		if r.resp.Error != "" {
			return r.resp, fmt.Errorf("worker %d: %s", w.cmd.Process.Pid, r.resp.Error)
		}
		return r.resp, nil
	case <-ctx.Done():
		// The worker is out of step now: stop it.
		w.cmd.Process.Kill()
		return workerResponse{}, ctx.Err()
	}
}

func (w *remoteGroup) Connect(ctx context.Context, spec ConnectSpec) (ConnectResult, error) {
	r, err := w.call(ctx, workerRequest{Op: "connect", Connect: &spec})
	if r.Connect == nil {
		return ConnectResult{}, err
	}
	return *r.Connect, err
}

func (w *remoteGroup) Check(ctx context.Context, expect map[string]Expect) (CheckResult, error) {
	r, err := w.call(ctx, workerRequest{Op: "check", Expect: expect})
	if r.Check == nil {
		return CheckResult{}, err
	}
	return *r.Check, err
}

func (w *remoteGroup) Report(ctx context.Context) (GroupReport, error) {
	r, err := w.call(ctx, workerRequest{Op: "report"})
	if r.Report == nil {
		return GroupReport{}, err
	}
	return *r.Report, err
}

// Close asks the worker to close its members and exit, and kills it if it
// has not within 20 s.
func (w *remoteGroup) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := w.call(ctx, workerRequest{Op: "close"})
	w.stdin.Close()
	select {
	case werr := <-w.waited:
		if err == nil && werr != nil {
			err = werr
		}
	case <-time.After(5 * time.Second):
		w.cmd.Process.Kill()
		<-w.waited
	}
	return err
}
