//go:build race

package hub

// raceEnabled: the race detector is on (its sync.Pool drops buffers at
// random, so allocation counts vary).
const raceEnabled = true
