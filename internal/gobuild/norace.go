//go:build !race

package gobuild

// Race is whether this binary was built with -race.
const Race = false
