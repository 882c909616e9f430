// Package panics counts the panics a server recovered from, by where they
// happened, and logs each with its stack. The gateway and the hub each keep
// one for their own sites; the metrics export them together as
// chatapp_panics_total{where}.
package panics

import (
	"fmt"
	"iter"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// Counts counts recovered panics by site, a fixed set named when it is made.
type Counts struct {
	logger *slog.Logger
	sites  []string
	n      []atomic.Uint64
}

// New returns counts of the given sites, logging to logger.
func New(logger *slog.Logger, sites ...string) *Counts {
	return &Counts{logger: logger, sites: sites, n: make([]atomic.Uint64, len(sites))}
}

// Recovered logs and counts a panic recovered at sites[site]. Call it in
// the deferred function that recovered: the stack it logs is the panic's.
// A site that New was not given is logged as "unknown", never a panic of
// its own: it runs where a panic was just recovered.
func (c *Counts) Recovered(site int, v any) {
	where := "unknown"
	if site >= 0 && site < len(c.sites) {
		c.n[site].Add(1)
		where = c.sites[site]
	}
	c.logger.Error("recovered from a panic", "where", where, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
}

// All yields every site with its count, those without a panic too.
func (c *Counts) All() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for i, site := range c.sites {
			if !yield(site, c.n[i].Load()) {
				return
			}
		}
	}
}
