package rie

import "syscall"

// sysProcAttr puts the emulator in a process group of its own, so that
// Close also ends what it started, and has the kernel send it SIGTERM when
// the process that started it dies without calling Close (kill -9, a
// crash). The emulator answers SIGTERM by killing its function's bootstrap
// (which it runs in yet another group) and exiting; should it die first,
// the bootstrap exits by itself when its Runtime API connection drops.
//
// The signal follows the thread that started the emulator, not the
// process: Go ends a thread only when a goroutine locked to it exits, and
// neither Start nor the goroutine that restarts an emulator is such a
// goroutine.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
