//go:build !linux

package component

import "syscall"

// DiesWithTest: outside Linux there is no parent-death signal; the
// component's own cleanup is the only stop.
func DiesWithTest() *syscall.SysProcAttr { return nil }
