package dynamolocal

import "syscall"

// sysProcAttr has the kernel kill java when the test binary dies without
// running Main's cleanup (a test timeout's panic, a signal).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
