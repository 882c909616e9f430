package gateway

// Rooms returns the number of rooms with at least one joined connection,
// for the operator's gauges; Len counts the open sockets.
func (h *Hub) Rooms() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms)
}
