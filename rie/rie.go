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
}

// Process is one running emulator with its function.
type Process struct {
	// Endpoint is the Lambda Invoke API base URL, http://127.0.0.1:PORT.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	once     sync.Once
}

// Start starts the emulator on two free loopback ports (both addresses are
// always passed: its defaults listen on every interface) and waits until
// it accepts connections.
//
// A port found free may be taken by another process before the emulator
// binds it; the emulator then exits at once, and Start tries new ports.
func Start(ctx context.Context, opts Options) (*Process, error) {
	var err error
	for range 3 {
		var p *Process
		if p, err = start(ctx, opts); !errors.Is(err, errExitedDuringStart) {
			return p, err
		}
	}
	return nil, err
}

var errExitedDuringStart = errors.New("rie: the emulator exited during start")

func start(ctx context.Context, opts Options) (*Process, error) {
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
	p := &Process{Endpoint: "http://" + rieAddr, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if err := p.waitReady(ctx, rieAddr); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.done:
			return errExitedDuringStart
		case <-ctx.Done():
			return fmt.Errorf("rie: the emulator did not listen on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the emulator and its function and waits for them.
func (p *Process) Close() error {
	p.once.Do(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
