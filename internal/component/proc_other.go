//go:build !linux

package component

import "syscall"

// diesWithTest: outside Linux there is no parent-death signal; the
// component's own cleanup is the only stop.
func diesWithTest() *syscall.SysProcAttr { return nil }
