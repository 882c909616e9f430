package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatapp-dev/chatapp/gateway"
)

// Every connection the server accepts holds a file descriptor, before any
// handshake and whoever the client: the listener is bounded by what the
// process may open, so that accept never fails with EMFILE (which leaves
// every client, /healthz included, waiting in the kernel's queue), and
// the WebSocket cap is set below that bound, so that when WebSockets are
// full, REST, /healthz and /metrics still get connections.

// Bounds derived from the file descriptor limit.
const (
	// maxWebSockets is the most WebSockets `serve` admits by default
	// however many descriptors it may open: five times the 19,000 idle
	// connections of BENCHMARKS.md.
	maxWebSockets = 100_000
	// minReservedFiles and maxReservedFiles bound the descriptors kept
	// from the listener, a tenth of the limit: the store's files (SQLite:
	// the database, its WAL and shared memory), stdio, the runtime's
	// poller, the functions' emulators and their pipes, and the outgoing
	// connections of the DynamoDB and Lambda Invoke clients. At most 512,
	// so that a host's usual 20,000 leave the 19,000 idle WebSockets of
	// BENCHMARKS.md.
	minReservedFiles = 64
	maxReservedFiles = 512
	// maxHTTPReserve is the most of the listener's connections kept from
	// WebSockets for other requests (a quarter of them otherwise).
	maxHTTPReserve = 256
	// minListenerBound is the fewest connections a server may be started
	// with.
	minListenerBound = 16
)

// connBounds are the connections a server may hold.
type connBounds struct {
	files      int // the file descriptor limit they derive from
	listener   int // accepted connections of any kind
	websockets int // the default and the most of --max-connections
}

// boundsFor derives the connection bounds from a file descriptor limit.
func boundsFor(files int) (connBounds, error) {
	listener := files - min(max(minReservedFiles, files/10), maxReservedFiles)
	if listener < minListenerBound {
		return connBounds{}, fmt.Errorf("the file descriptor limit (%d) leaves fewer than %d connections: raise it (ulimit -n)", files, minListenerBound)
	}
	websockets := min(maxWebSockets, listener-min(maxHTTPReserve, listener/4))
	return connBounds{files: files, listener: listener, websockets: websockets}, nil
}

// webSocketCap is the cap on open WebSockets for a requested one: the
// bound when none (0) was requested, and the bound in place of a larger
// one, with a warning: a cap the descriptors cannot hold would let
// WebSockets take the connections of every other request.
func (b connBounds) webSocketCap(requested int, logger *slog.Logger) int {
	switch {
	case requested <= 0:
		return b.websockets
	case requested > b.websockets:
		logger.Warn("--max-connections lowered to what the file descriptor limit allows",
			"requested", requested, "max_connections", b.websockets, "file_limit", b.files)
		return b.websockets
	}
	return requested
}

// boundedListener accepts at most max connections at a time. A connection
// past the bound is accepted and closed at once rather than left in the
// kernel's accept queue: it learns at once that the server is full instead
// of waiting for its own timeout, and the queue never holds connections
// that nothing counts and that would be served before a /healthz probe
// once a place frees. Accepting needs a descriptor only for an instant:
// the bound leaves the reserve for it.
type boundedListener struct {
	*net.TCPListener
	max    int64
	open   atomic.Int64
	logger *slog.Logger
	// refused counts connections closed at the bound since the last
	// warning, logged at most once per refusalLogInterval.
	refused    atomic.Int64
	lastLogged atomic.Int64 // unix nanoseconds

	// perSource, if above 0, is the most connections one source address
	// (an IPv6 /64) may hold: one client cannot take every place. bySource
	// counts them.
	perSource int
	mu        sync.Mutex
	bySource  map[netip.Prefix]int
	// pressure, if set, is told when the listener passes highWater (true)
	// and falls back under lowWater (false): the server then closes its
	// idle keep-alive connections and keeps no new ones, so that clients
	// that hold connections without using them give way to new ones.
	pressure            func(on bool)
	underPressure       atomic.Bool
	highWater, lowWater int64
	pressureSince       atomic.Int64  // unix nanoseconds the valve last turned on
	hold                time.Duration // the least time it stays on (minPressureHold)
}

// refusalLogInterval spaces the warnings of a listener at its bound.
const refusalLogInterval = time.Minute

func newBoundedListener(ln *net.TCPListener, max int, logger *slog.Logger) *boundedListener {
	return &boundedListener{TCPListener: ln, max: int64(max), logger: logger, bySource: map[netip.Prefix]int{}}
}

// limitSources gives each source address at most n connections (0: no
// limit).
func (l *boundedListener) limitSources(n int) { l.perSource = n }

// onPressure calls f(true) when the listener is within a few places of its
// bound, and f(false) once it has twice as many free again. The marks are
// counted in places of the HTTP reserve, not in shares of the bound:
// WebSockets at their cap (which leaves the reserve free) are under both,
// so they never turn the valve on, nor keep it on.
func (l *boundedListener) onPressure(f func(on bool)) {
	l.pressure, l.hold = f, minPressureHold
	reserve := min(maxHTTPReserve, l.max/4) // what WebSockets leave free (boundsFor)
	l.highWater = l.max - reserve/4
	l.lowWater = l.max - reserve/2
}

// admitSource counts a connection against its source's share.
func (l *boundedListener) admitSource(src netip.Prefix) bool {
	if l.perSource <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource[src] >= l.perSource {
		return false
	}
	l.bySource[src]++
	return true
}

func (l *boundedListener) releaseSource(src netip.Prefix) {
	if l.perSource <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// turnOn sets the valve's flag, its time first: a Close that reads the flag
// on must not read an older time. It reports whether the flag was off.
func (l *boundedListener) turnOn() bool {
	if l.underPressure.Load() {
		return false
	}
	l.pressureSince.Store(time.Now().UnixNano())
	return l.underPressure.CompareAndSwap(false, true)
}

// minPressureHold is the least time the valve stays on: turning it on
// closes the idle connections, which at once takes the count under the low
// mark, and turning it off then would let clients reuse connections the
// next crossing closes under them (the valve flapped with every round of
// requests of a load that fits the bound; with a 10 s hold, every 12 s).
// For a minute, as long as a kept-alive connection may idle, the server
// answers with Connection: close.
const minPressureHold = time.Minute // a keep-alive connection's idle timeout

// watchPressure turns the pressure valve as the count of open
// connections, open, crosses the marks. The flag's swaps are ordered but the
// calls they make are not (an Accept and a Close may cross), so the caller
// that changed it applies the flag's latest value until it holds still. A
// mutex would deadlock: turning the valve on closes idle connections, whose
// Close comes back here.
func (l *boundedListener) watchPressure(open int64) {
	switch {
	case l.pressure == nil:
		return
	case open >= l.highWater && l.turnOn():
		l.logger.Warn("near the connection limit: closing idle keep-alive connections", "open", open, "max_connections", l.max)
	case open < l.lowWater && time.Since(time.Unix(0, l.pressureSince.Load())) >= l.hold &&
		l.underPressure.CompareAndSwap(true, false):
	default:
		return
	}
	for {
		on := l.underPressure.Load()
		l.pressure(on)
		if l.underPressure.Load() == on {
			return
		}
	}
}

// Accept returns the next connection within the bound, closing the ones
// past it.
func (l *boundedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			return nil, err
		}
		src := gateway.SourceOf(c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr())
		if open := l.open.Add(1); open <= l.max && l.admitSource(src) {
			l.watchPressure(open)
			return &boundedConn{TCPConn: c, l: l, src: src}, nil
		}
		l.open.Add(-1)
		c.Close()
		l.logRefusal()
	}
}

func (l *boundedListener) logRefusal() {
	n := l.refused.Add(1)
	now, last := time.Now().UnixNano(), l.lastLogged.Load()
	if now-last >= int64(refusalLogInterval) && l.lastLogged.CompareAndSwap(last, now) {
		l.refused.Add(-n)
		l.logger.Warn("at the connection limit: closing new connections at once", "max_connections", l.max, "closed", n)
	}
}

// boundedConn gives its place back when it is closed, once, however many
// times Close is called (the HTTP server and a hijacking WebSocket may
// both). It embeds *net.TCPConn, so the server keeps its sendfile path.
type boundedConn struct {
	*net.TCPConn
	l      *boundedListener
	src    netip.Prefix
	closed atomic.Bool
}

func (c *boundedConn) Close() error {
	err := c.TCPConn.Close()
	if !c.closed.Swap(true) {
		c.l.releaseSource(c.src)
		c.l.watchPressure(c.l.open.Add(-1))
	}
	return err
}
