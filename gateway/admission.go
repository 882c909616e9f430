package gateway

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/chatapp-dev/chatapp"
)

// admission counts the open WebSockets against Config.MaxConnections, in
// all, and Config.MaxConnectionsPerIP, per source address. A place is taken
// by a valid handshake before the authorizer and $connect run, and given
// back once the connection's $disconnect has run, or at once when the
// handshake is refused.
type admission struct {
	open atomic.Int64 // one atomic add, exact however many handshakes race

	mu    sync.Mutex
	perIP map[netip.Prefix]int // only sources with open sockets: it never outgrows them
}

// admit takes a place for a new WebSocket from source, or returns the
// error its handshake is refused with: rate_limited (429) past
// MaxConnectionsPerIP, unavailable (503) past MaxConnections. Each place
// taken is given back with release.
func (g *Gateway) admit(source netip.Prefix) error {
	a := &g.admission
	if limit := g.cfg.MaxConnectionsPerIP; limit > 0 {
		a.mu.Lock()
		if a.perIP[source] >= limit {
			a.mu.Unlock()
			return chatapp.Errorf(chatapp.ERATELIMIT, "too many connections from your address")
		}
		if a.perIP == nil {
			a.perIP = map[netip.Prefix]int{}
		}
		a.perIP[source]++
		a.mu.Unlock()
	}
	if limit := g.cfg.MaxConnections; limit > 0 && a.open.Add(1) > int64(limit) {
		a.open.Add(-1)
		g.releaseIP(source)
		return chatapp.Errorf(chatapp.EUNAVAILABLE, "the server is at its connection limit")
	}
	return nil
}

// release gives back a place that admit took.
func (g *Gateway) release(source netip.Prefix) {
	if g.cfg.MaxConnections > 0 {
		g.admission.open.Add(-1)
	}
	g.releaseIP(source)
}

func (g *Gateway) releaseIP(source netip.Prefix) {
	if g.cfg.MaxConnectionsPerIP <= 0 {
		return
	}
	a := &g.admission
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perIP[source]--; a.perIP[source] <= 0 {
		delete(a.perIP, source)
	}
}

// sourceOf is SourceOf for an address in text, as events carry it; one
// that does not parse (never from a TCP connection) counts against the
// zero prefix.
func sourceOf(ip string) netip.Prefix {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{}
	}
	return SourceOf(addr)
}

// SourceOf is the source a connection from addr counts against in
// per-source limits: the address itself for IPv4, its /64 for IPv6, the
// least a host is given (one IPv6 client may hold a whole /64).
func SourceOf(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.WithZone("").Prefix(bits)
	return p
}
