package component

import "syscall"

// DiesWithTest has the kernel kill a component's process when the test
// binary dies without stopping it (a test timeout's panic, a signal). The
// signal follows the thread that started the process, not the process:
// the starting goroutine must hold its thread (runtime.LockOSThread) until
// the component has exited.
func DiesWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
