//go:build unix

package main

import (
	"math"
	"syscall"
)

// openFileLimit is the most file descriptors the process may hold: its
// soft RLIMIT_NOFILE, which Go's runtime has already raised to the hard
// limit on Linux by the time main runs.
func openFileLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return int(min(rl.Cur, math.MaxInt32)), nil // RLIM_INFINITY is all ones
}
