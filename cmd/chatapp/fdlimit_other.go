//go:build !unix

package main

// openFileLimit has no RLIMIT_NOFILE to read here: sockets are not file
// descriptors of a per-process table. The bound is then what would leave
// `serve` its default of 100,000 WebSockets.
func openFileLimit() (int, error) { return 1 << 20, nil }
