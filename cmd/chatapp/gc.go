package main

import (
	"os"
	"runtime/debug"
)

// serveGCPercent is the garbage collector's target of `chatapp serve` when
// GOGC does not set one. A server holding many idle connections keeps a
// large live heap, and every handshake leaves its HTTP buffers behind as
// garbage; at Go's default of 100 that garbage may grow to the live heap's
// size before a collection. At 50, idle connections measured 9.2 KB of RSS
// each instead of 11, with no measurable cost to fan-out (BENCHMARKS.md).
const serveGCPercent = 50

// tuneGC applies serveGCPercent unless the operator chose with GOGC.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}
