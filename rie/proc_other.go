//go:build !linux

package rie

import "syscall"

// sysProcAttr puts the emulator in a process group of its own, so that
// Close also ends what it started. Outside Linux there is no parent-death
// signal: an emulator outlives a server killed without Close.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
