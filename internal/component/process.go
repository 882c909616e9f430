package component

import (
	"os/exec"
	"runtime"
)

// Start starts a component's process so that it dies with the test binary
// even when the binary dies without stopping it (a test timeout's panic,
// a signal: Linux's parent-death signal), and returns a channel closed
// once the process has exited and been waited for. The signal follows
// the thread that started the process, not the process: the goroutine
// that starts it holds its thread until the process has exited.
func Start(cmd *exec.Cmd) (exited <-chan struct{}, err error) {
	cmd.SysProcAttr = diesWithTest()
	started, done := make(chan error), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait()
			close(done)
		}
	}()
	return done, <-started
}
