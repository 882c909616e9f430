package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
)

// Hub holds the gateway's live sockets and an in-memory index of rooms.
// It is the local chatapp.Notifier: a room broadcast reads the index, not
// the connections table, and hands one shared frame to each socket's queue.
type Hub struct {
	logger *slog.Logger

	mu      sync.RWMutex
	sockets map[string]*socket
	rooms   map[string]map[*socket]struct{}
	closed  bool        // closeAll ran: no socket is added any more
	panics  panicCounts // recovered panics, by site (recover.go)

	// live counts the sockets added and not yet done, so that the gateway's
	// Close can wait for their $disconnect. It is added to under mu, before
	// closed is set, which orders every Add before Close's Wait.
	live sync.WaitGroup
}

var _ chatapp.Notifier = (*Hub)(nil)

func newHub(logger *slog.Logger) *Hub {
	return &Hub{logger: logger, sockets: map[string]*socket{}, rooms: map[string]map[*socket]struct{}{}}
}

// add registers a new socket; it reports false once the hub is closing.
// Each socket added must be marked done when its handler ends.
func (h *Hub) add(s *socket) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.sockets[s.id] = s
	h.live.Add(1)
	return true
}

// done marks the end of an added socket's handler, $disconnect included.
func (h *Hub) done() { h.live.Done() }

// remove forgets a socket that closed, once its $disconnect has run: until
// then the sweep must not take its row (sweep.go).
func (h *Hub) remove(s *socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sockets[s.id] == s {
		delete(h.sockets, s.id)
	}
	h.leaveLocked(s)
}

// join records the room of a connection the $connect function stored.
func (h *Hub) join(c *chatapp.Connection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sockets[c.ID]
	if !ok {
		return
	}
	h.leaveLocked(s)
	s.member = c
	if c.ExpiresAt > 0 {
		s.mu.Lock()
		s.expiresAt = time.UnixMilli(c.ExpiresAt)
		s.mu.Unlock()
	}
	members := h.rooms[c.RoomID]
	if members == nil {
		members = map[*socket]struct{}{}
		h.rooms[c.RoomID] = members
	}
	members[s] = struct{}{}
}

// leave drops a connection from its room; its socket stays open.
func (h *Hub) leave(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.sockets[id]; ok {
		h.leaveLocked(s)
	}
}

func (h *Hub) leaveLocked(s *socket) {
	if s.member == nil {
		return
	}
	room := s.member.RoomID
	delete(h.rooms[room], s)
	if len(h.rooms[room]) == 0 {
		delete(h.rooms, room)
	}
	s.member = nil
}

// member returns a copy of the connection row of an open socket, nil if
// the socket is unknown or has not joined.
func (h *Hub) member(id string) *chatapp.Connection {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s, ok := h.sockets[id]
	if !ok || s.member == nil {
		return nil
	}
	c := *s.member
	return &c
}

// Broadcast queues push on every socket of the room that wants its kind.
// A done context is refused before anything is queued, as Post refuses it.
func (h *Hub) Broadcast(ctx context.Context, roomID string, push chatapp.Push) (chatapp.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return chatapp.Delivery{}, err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	members := h.rooms[roomID]
	d := chatapp.Delivery{Connections: make([]*chatapp.Connection, 0, len(members))}
	for s := range members {
		d.Connections = append(d.Connections, s.member)
		if !s.member.Wants(push.Kind) || s.id == push.Except {
			continue
		}
		if s.enqueue(push.Data) {
			d.Delivered++
		} else {
			d.Failed++
		}
	}
	return d, nil
}

// Post is PostToConnection: EGONE when the connection is not open, or not
// yet (enqueue). A done context is refused before anything is queued: on
// AWS a function's post is a request made under its context, which fails
// once the function has timed out (gateway.WithLambdaTimeout), and a
// function in this process must not reach its client after its timeout
// either.
func (h *Hub) Post(ctx context.Context, connectionID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := h.socket(connectionID)
	if s == nil || !s.enqueue(data) {
		return chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	return nil
}

// ConnectionInfo is GetConnection's answer.
type ConnectionInfo struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

// GetConnection describes an open connection, or gives EGONE.
func (h *Hub) GetConnection(connectionID string) (ConnectionInfo, error) {
	h.mu.RLock()
	s, ok := h.sockets[connectionID]
	h.mu.RUnlock()
	if !ok || s.isClosing() {
		return ConnectionInfo{}, chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	return ConnectionInfo{ConnectedAt: s.connectedAt, LastActiveAt: s.lastActiveAt(), SourceIP: s.sourceIP, UserAgent: s.userAgent}, nil
}

// DeleteConnection is the Management API's DeleteConnection: it closes a
// connection from the server side (1000), and its $disconnect route runs
// as for any close.
func (h *Hub) DeleteConnection(connectionID string) error {
	s := h.socket(connectionID)
	if s == nil || s.isClosing() {
		return chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	s.close(ws.StatusNormalClosure, "")
	return nil
}

// Disconnect is chatapp.Notifier's: the functions close a connection, with
// 1008 and reason (the first close wins; one that is gone is no error). A
// done context is refused, as Post refuses it.
func (h *Hub) Disconnect(ctx context.Context, connectionID, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s := h.socket(connectionID); s != nil {
		s.close(ws.StatusPolicyViolation, reason)
	}
	return nil
}

// socket returns the socket of a connection id, nil if there is none.
func (h *Hub) socket(connectionID string) *socket {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.sockets[connectionID]
}

// Len returns the number of sockets held: open ones, and closing ones
// whose $disconnect has not yet run.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.sockets)
}

// Sockets counts the sockets held, for the operator's gauges: open ones,
// and closing ones kept until their $disconnect has run. It walks every
// socket (a channel check each, no lock of theirs), when scraped, so that
// the delivery path counts nothing.
func (h *Hub) Sockets() (open, closing int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.sockets {
		if s.isClosing() {
			closing++
		}
	}
	return len(h.sockets) - closing, closing
}

// closeAll closes every socket with 1001 and refuses new ones.
func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, s := range h.sockets {
		s.close(ws.StatusGoingAway, "server shutting down")
	}
}
