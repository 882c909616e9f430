package component

import "syscall"

// diesWithTest has the kernel kill a component's process when the thread
// that started it ends with the test binary.
func diesWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
