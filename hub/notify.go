// The hub as the local chatapp.Notifier: broadcasts, posts and
// disconnects, as API Gateway's Management API does them.

package hub

import (
	"context"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Broadcast queues push on every client of the room that wants its kind.
// A done context is refused before anything is queued, as Post refuses it.
func (h *Hub) Broadcast(ctx context.Context, roomID string, push chatapp.Push) (chatapp.Delivery, error) {
	ds, err := h.BroadcastBatch(ctx, roomID, []chatapp.Push{push})
	if err != nil {
		return chatapp.Delivery{}, err
	}
	return ds[0], nil
}

// BroadcastBatch queues pushes, in order, on every client of the room,
// each push on the clients that want its kind; a client's share goes out
// in one write, by the flushers (directwrite.go). The deliveries share one
// list of the room's connections; a batch of presence events alone lists
// none (Partial): it reaches only the members that asked for them, and
// costs the rest nothing, as each connect and disconnect announces one. A
// done context is refused before anything is queued.
func (h *Hub) BroadcastBatch(ctx context.Context, roomID string, pushes []chatapp.Push) ([]chatapp.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := make([]chatapp.Delivery, len(pushes))
	h.mu.RLock()
	defer h.mu.RUnlock()
	if presenceOnly(pushes) {
		h.queueAll(h.watching[roomID], pushes, ds)
		for i := range ds {
			ds[i].Partial = true
		}
		return ds, nil
	}
	members := h.rooms[roomID]
	conns := connections(members)
	h.queueAll(members, pushes, ds)
	for i := range ds {
		ds[i].Connections = conns
	}
	return ds, nil
}

func presenceOnly(pushes []chatapp.Push) bool {
	for _, p := range pushes {
		if p.Kind != chatapp.PushPresence {
			return false
		}
	}
	return true
}

// queueAll queues on each client the pushes it wants, and counts them in
// ds; then the flushers write them. The caller holds h.mu.
func (h *Hub) queueAll(clients map[*Client]struct{}, pushes []chatapp.Push, ds []chatapp.Delivery) {
	frames := make([][]byte, 0, len(pushes))
	wanted := make([]int, 0, len(pushes))
	var held []*writer
	// Deferred: a writer held here is written by nobody else, so it is
	// flushed whatever happens after it was held.
	defer func() { flush(held) }()
	for c := range clients {
		frames, wanted = frames[:0], wanted[:0]
		for i, p := range pushes {
			if c.member.Wants(p.Kind) && c.id != p.Except {
				frames, wanted = append(frames, p.Data), append(wanted, i)
			}
		}
		if len(frames) == 0 {
			continue
		}
		ok, mustFlush := c.hold(frames...)
		if mustFlush {
			held = append(held, c.writer)
		}
		for _, i := range wanted {
			if ok {
				ds[i].Delivered++
			} else {
				ds[i].Failed++
			}
		}
	}
}

// Members returns the room's joined connections from memory, as Broadcast
// lists them: the rows the functions stored, shared, which nobody may
// change.
func (h *Hub) Members(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return connections(h.rooms[roomID]), nil
}

// connections lists the rows of clients. The caller holds h.mu.
func connections(clients map[*Client]struct{}) []*chatapp.Connection {
	conns := make([]*chatapp.Connection, 0, len(clients))
	for c := range clients {
		conns = append(conns, c.member)
	}
	return conns
}

// MemberCount returns the number of the room's joined connections, with
// no copy of them: a cluster node's push reports it (nats.Node.Broadcast).
func (h *Hub) MemberCount(roomID string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms[roomID])
}

// Post is PostToConnection: EGONE when the connection is not open, or not
// yet (Enqueue). A done context is refused before anything is queued: on
// AWS a function's post is a request made under its context, which fails
// once the function has timed out (gateway.WithLambdaTimeout), and a
// function in this process must not reach its client after its timeout
// either.
func (h *Hub) Post(ctx context.Context, connectionID string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := h.client(connectionID)
	if c == nil || !c.Enqueue(data) {
		return chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	return nil
}

// Disconnect is chatapp.Notifier's: the functions close a connection, with
// 1008 and reason (the first close wins; one that is gone is no error). A
// done context is refused, as Post refuses it.
func (h *Hub) Disconnect(ctx context.Context, connectionID, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c := h.client(connectionID); c != nil {
		c.Close(DisconnectPolicy(reason))
	}
	return nil
}

// ConnectionInfo is GetConnection's answer.
type ConnectionInfo struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	Peer
}

// GetConnection describes an open connection, or gives EGONE.
func (h *Hub) GetConnection(connectionID string) (ConnectionInfo, error) {
	c := h.client(connectionID)
	if c == nil || c.isClosing() {
		return ConnectionInfo{}, chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	return ConnectionInfo{ConnectedAt: c.connectedAt, LastActiveAt: c.lastActiveAt(), Peer: c.peer}, nil
}

// DeleteConnection is the Management API's DeleteConnection: it closes a
// connection from the server side (1000), and its $disconnect runs as for
// any close.
func (h *Hub) DeleteConnection(connectionID string) error {
	c := h.client(connectionID)
	if c == nil || c.isClosing() {
		return chatapp.Errorf(chatapp.EGONE, "connection %s is gone", connectionID)
	}
	c.Close(DisconnectNormal)
	return nil
}
