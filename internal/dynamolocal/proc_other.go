//go:build !linux

package dynamolocal

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; Main's
// cleanup is the only stop.
func sysProcAttr() *syscall.SysProcAttr { return nil }
