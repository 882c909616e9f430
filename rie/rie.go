// Package rie runs Lambda functions locally under the AWS Lambda Runtime
// Interface Emulator (github.com/aws/aws-lambda-runtime-interface-emulator):
// the real Lambda Runtime API in front of the real bootstrap binary, invoked
// through the Lambda Invoke API.
package rie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// FunctionName is the only function name the emulator answers to.
const FunctionName = "function"

// Options describe one function.
type Options struct {
	// RIE is the aws-lambda-rie binary; Bootstrap the function's binary.
	RIE, Bootstrap string
	// Handler becomes _HANDLER, as a function's Handler setting does.
	Handler string
	// Env is added to the function's environment.
	Env []string
	// Output receives the emulator's and the function's logs.
	Output io.Writer
	// Timeout is the function's Lambda timeout: an invocation still
	// running at it fails ("Task timed out after N.00 seconds") and the
	// emulator restarts the function, as Lambda stops it. The emulator
	// takes it in whole seconds (AWS_LAMBDA_FUNCTION_TIMEOUT), as Lambda
	// does; a fraction is rounded up. 0 leaves the emulator's default, 300 s.
	Timeout time.Duration
	// Logger receives the emulator's exits and restarts; nil: none.
	Logger *slog.Logger
}

// Process is one function under the emulator, kept running as Lambda
// keeps a function invocable: an emulator that exits while the Process is
// open (a crash, a kill) is started again, on new ports, after a backoff
// that doubles from minBackoff to maxBackoff while restarts keep failing or
// the emulators they start die young. Each exit and restart is logged, and
// Err says when none runs.
type Process struct {
	opts   Options
	logger *slog.Logger
	// ctx ends at Close, stopping the supervisor and any start under way.
	ctx        context.Context
	stop       context.CancelFunc
	supervised chan struct{} // closed when the supervisor has stopped

	mu       sync.Mutex
	endpoint string    // the running emulator's, or the last one's
	current  *emulator // nil while none runs
	err      error     // why none runs
}

// Backoff of restarts: the first waits minBackoff, each one after a failed
// start or an emulator that lived less than stableAfter twice as long, at
// most maxBackoff.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	stableAfter = 30 * time.Second
)

// emulator is one run of the emulator process.
type emulator struct {
	addr    string // its Invoke API, host:port
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when it has exited
	once    sync.Once
}

// Start starts the emulator on two free loopback ports (both addresses are
// always passed: its defaults listen on every interface), waits until it
// accepts connections, and keeps it running until Close. ctx bounds this
// first start only.
func Start(ctx context.Context, opts Options) (*Process, error) {
	e, err := startEmulator(ctx, opts)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Process{opts: opts, logger: logger, supervised: make(chan struct{}), endpoint: "http://" + e.addr, current: e}
	// Not ctx: the emulator must outlive the context of its start (a
	// server's signal context ends before the server's last invocations).
	p.ctx, p.stop = context.WithCancel(context.Background())
	go p.supervise(e)
	return p, nil
}

// Endpoint is the Lambda Invoke API base URL, http://127.0.0.1:PORT, of
// the running emulator: a restarted one listens on other ports. While none
// runs, it is the last one's, which refuses connections.
func (p *Process) Endpoint() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endpoint
}

// Err is nil while the emulator runs, and why it does not otherwise (it
// exited and waits for its restart, or restarts fail).
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Pid is the running emulator's process id, 0 while none runs.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil {
		return 0
	}
	return p.current.cmd.Process.Pid
}

// supervise restarts the emulator each time it exits, until Close; then
// it stops the one running.
func (p *Process) supervise(e *emulator) {
	defer close(p.supervised)
	defer func() { e.close() }()
	delay := minBackoff
	for {
		select {
		case <-e.done:
		case <-p.ctx.Done():
			return
		}
		if time.Since(e.started) >= stableAfter {
			delay = minBackoff
		}
		p.set(nil, fmt.Errorf("rie: the emulator of %s exited (%v)", p.opts.Handler, e.cmd.ProcessState))
		p.logger.Error("function emulator exited; restarting it", "function", p.opts.Handler, "pid", e.cmd.Process.Pid, "status", e.cmd.ProcessState.String(), "in", delay)
		for {
			select {
			case <-time.After(delay):
			case <-p.ctx.Done():
				return
			}
			delay = min(2*delay, maxBackoff)
			next, err := startEmulator(p.ctx, p.opts)
			if err == nil {
				e = next
				break
			}
			if p.ctx.Err() != nil {
				return
			}
			p.set(nil, fmt.Errorf("rie: restarting the emulator of %s: %w", p.opts.Handler, err))
			p.logger.Error("function emulator failed to restart", "function", p.opts.Handler, "err", err, "retry_in", delay)
		}
		p.set(e, nil)
		p.logger.Info("function emulator restarted", "function", p.opts.Handler, "pid", e.cmd.Process.Pid, "endpoint", "http://"+e.addr)
	}
}

// set records the running emulator, or why none runs.
func (p *Process) set(e *emulator, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current, p.err = e, err
	if e != nil {
		p.endpoint = "http://" + e.addr
	}
}

// Close stops the emulator and its function, and their restarts, and waits
// for them.
func (p *Process) Close() error {
	p.stop()
	<-p.supervised
	return nil
}

// startEmulator starts one emulator. A port found free may be taken by
// another process before the emulator binds it; the emulator then exits at
// once, and startEmulator tries new ports.
func startEmulator(ctx context.Context, opts Options) (*emulator, error) {
	var err error
	for range 3 {
		var e *emulator
		if e, err = start(ctx, opts); !errors.Is(err, errExitedDuringStart) {
			return e, err
		}
	}
	return nil, err
}

var errExitedDuringStart = errors.New("rie: the emulator exited during start")

func start(ctx context.Context, opts Options) (*emulator, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	rieAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(opts.RIE,
		"--runtime-interface-emulator-address", rieAddr,
		"--runtime-api-address", apiAddr,
		opts.Bootstrap)
	cmd.Env = append(os.Environ(), "_HANDLER="+opts.Handler, "AWS_LAMBDA_FUNCTION_NAME="+opts.Handler)
	cmd.Env = append(cmd.Env, opts.Env...)
	if opts.Timeout > 0 {
		seconds := (opts.Timeout + time.Second - 1) / time.Second
		cmd.Env = append(cmd.Env, fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", seconds))
	}
	cmd.Stdout, cmd.Stderr = opts.Output, opts.Output
	if opts.Output == nil {
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.RIE, err)
	}
	e := &emulator{addr: rieAddr, cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() { cmd.Wait(); close(e.done) }()
	if err := e.waitReady(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *emulator) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", e.addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-e.done:
			return errExitedDuringStart
		case <-ctx.Done():
			return fmt.Errorf("rie: the emulator did not listen on %s: %w", e.addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// close stops the emulator and its function and waits for them.
func (e *emulator) close() {
	e.once.Do(func() {
		select {
		case <-e.done:
			return // exited already: its pid may be another process's now
		default:
		}
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-e.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
			<-e.done
		}
	})
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
