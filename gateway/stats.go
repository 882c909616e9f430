package gateway

import "iter"

// Rooms returns the number of rooms with at least one joined connection,
// for the operator's gauges; Len counts the open sockets.
func (h *Hub) Rooms() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms)
}

// Panics yields how many panics the gateway recovered from, by where they
// happened: "http" (a request), "socket" (a connection's read loop),
// "writer", "timer", "integration" (a route's function). Every site is
// yielded, those without a panic too.
func (h *Hub) Panics() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for site := range numPanicSites {
			if !yield(panicSiteNames[site], h.panics[site].Load()) {
				return
			}
		}
	}
}
