// Package hub holds the live WebSocket connections of one process: a
// registry of clients, an in-memory index of the rooms they joined, and
// for each client its send queue and writer, its read loop (frames, their
// limits and budget) and its timers. It is the local chatapp.Notifier and
// chatapp.RoomIndex: a room broadcast reads the index, not the
// connections table, and hands one shared frame to each client's queue.
//
// It also serves, in process, the connection operations of API Gateway's
// Management API (Post, GetConnection, DeleteConnection), with their
// rules: no post before $connect has returned (Accept), 410 for a
// connection that is gone. The rest of API Gateway is the gateway
// package's: it runs handshakes, $connect and $disconnect, routes each
// message a client sends, and serves the Management API over HTTP; it
// hands the hub the connections it opens.
package hub

import (
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/panics"
)

// Hub holds the process's live connections and an index of their rooms.
type Hub struct {
	logger *slog.Logger
	panics *panics.Counts // recovered panics, by site (panicSites)

	mu      sync.RWMutex
	clients map[string]*Client
	rooms   map[string]map[*Client]struct{}
	// watching holds, of each room's members, those that asked for
	// presence events: a join or leave, one a connect, reaches them
	// without a walk of the whole room.
	watching map[string]map[*Client]struct{}
	closed   bool // Shutdown began: no client is added any more
	// writeTimeout bounds a writer goroutine's flush (writeTimeout;
	// shorter in tests).
	writeTimeout time.Duration
	watcher      RoomWatcher // told of rooms opened and closed, if set (rooms.go)

	// live counts the clients opened and not yet forgotten, so that
	// Shutdown can wait for their $disconnect. It is added to under mu,
	// before closed is set, which orders every Add before Shutdown's Wait.
	live sync.WaitGroup
}

var (
	_ chatapp.Notifier  = (*Hub)(nil)
	_ chatapp.RoomIndex = (*Hub)(nil)
)

// Where the hub recovers panics: the label of their count.
const (
	panicSocket = iota // a connection's read loop (its handler included) and end
	panicWriter        // a connection's writer
	panicTimer         // a connection's idle, maximum-duration or token-expiry timer
)

var panicSites = []string{"socket", "writer", "timer"}

// New returns an empty hub that logs to logger (slog's default if nil).
func New(logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{logger: logger, panics: panics.New(logger, panicSites...), clients: map[string]*Client{}, rooms: map[string]map[*Client]struct{}{}, watching: map[string]map[*Client]struct{}{}, writeTimeout: writeTimeout}
}

// Open registers a new connection, before its $connect runs: from now on
// the sweep spares its row. It returns nil once the hub is shutting down.
// The client must be served (Serve) or forgotten (Forget).
func (h *Hub) Open(id string, peer Peer) *Client {
	c := &Client{hub: h, id: id, peer: peer, connectedAt: time.Now()}
	c.touch()
	h.mu.Lock()
	defer h.mu.Unlock()
	c.writer = newWriter(func(v any) { h.panics.Recovered(panicWriter, v) }, h.writeTimeout)
	if h.closed {
		return nil
	}
	h.clients[id] = c
	h.live.Add(1)
	return c
}

// remove forgets a client once its $disconnect has run: until then the
// sweep must not take its row (sweep.go).
func (h *Hub) remove(c *Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clients[c.id] == c {
		delete(h.clients, c.id)
	}
	h.leaveLocked(c)
}

// client returns the client of a connection id, nil if there is none.
func (h *Hub) client(id string) *Client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.clients[id]
}

// Shutdown closes every connection with 1001 and refuses new ones, as API
// Gateway does on a deployment, and waits until every client is
// forgotten: their $disconnect has run.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	h.closed = true
	for _, c := range h.clients {
		c.Close(DisconnectShutdown)
	}
	h.mu.Unlock()
	h.live.Wait()
}

// Len returns the number of clients held: open ones, and closing ones
// whose $disconnect has not yet run.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// Sockets counts the clients held, for the operator's gauges: open ones,
// and closing ones kept until their $disconnect has run. It walks every
// client (a channel check each, no lock of theirs), when scraped, so that
// the delivery path counts nothing.
func (h *Hub) Sockets() (open, closing int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.clients {
		if c.isClosing() {
			closing++
		}
	}
	return len(h.clients) - closing, closing
}

// Rooms returns the number of rooms with at least one joined connection.
func (h *Hub) Rooms() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms)
}

// Pending is what a connection's writer holds unsent, its pong included
// (0, 0 for an unknown id): a queue bounded by maxQueuedFrames and
// maxQueuedBytes.
func (h *Hub) Pending(id string) (frames, bytes int) {
	if c := h.client(id); c != nil {
		return c.writer.pending()
	}
	return 0, 0
}

// Panics yields how many panics the hub recovered from, by where they
// happened: "socket" (a connection's read loop), "writer", "timer".
// Every site is yielded, those without a panic too.
func (h *Hub) Panics() iter.Seq2[string, uint64] { return h.panics.All() }
