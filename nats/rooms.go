package nats

import (
	"context"
	"maps"
	"slices"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp"
)

// room is a node's subscription to a room it has members in, from the
// room's first member here to its last one's leave. A room that opens
// again while its old subscription ends gets a new one, which starts once
// the old one delivers nothing more.
type room struct {
	id    string
	seq   *sequencer
	sub   *natsgo.Subscription // set under the node's lock once subscribed
	ready chan struct{}        // closed once subscribed and started (or failed to)
	ended chan struct{}        // closed once the room delivers nothing more
	after *room                // the room's previous subscription, still ending
}

// RoomOpened is hub.RoomWatcher's: the room's first member joined here.
// It subscribes in the background; Joined waits for it.
func (n *Node) RoomOpened(id string) {
	r := &room{id: id, ready: make(chan struct{}), ended: make(chan struct{})}
	r.seq = newSequencer(id, n.store, n.held, func(frames [][]byte) { n.deliver(id, frames...) }, n.logger)
	n.mu.Lock()
	r.after = n.ending[id]
	n.rooms[id] = r
	n.mu.Unlock()
	if !n.goWork(func() { n.subscribe(r) }) {
		close(r.ready) // the node is closing: nobody waits
	}
}

// RoomClosed is hub.RoomWatcher's: the room's last member here left.
func (n *Node) RoomClosed(id string) {
	n.mu.Lock()
	r := n.rooms[id]
	delete(n.rooms, id)
	if r != nil {
		n.ending[id] = r
	}
	n.mu.Unlock()
	if r != nil {
		n.goWork(func() { n.unsubscribe(r) })
	}
}

// subscribe subscribes to the room's subject and, once the broker has the
// subscription, starts the room's sequencer from the store: a message
// stored after that read is published after it, and arrives. If the
// broker is out of reach, its reconnect fills the room.
func (n *Node) subscribe(r *room) {
	defer close(r.ready)
	if r.after != nil {
		<-r.after.ended
	}
	sub, err := n.nc.Subscribe(roomSubject(r.id), func(m *natsgo.Msg) { n.receive(r, m) })
	if err != nil {
		n.logger.Error("subscribing to a room failed: its members here get only this node's messages", "room_id", r.id, "err", err)
		return
	}
	n.mu.Lock()
	r.sub = sub
	n.mu.Unlock()
	// Without the broker there is nothing to wait for: its (re)connect
	// fills the room.
	if n.nc.IsConnected() {
		if err := n.nc.FlushTimeout(flushTimeout); err != nil {
			n.logger.Warn("the broker did not confirm a room's subscription; the reconnect fills the room", "room_id", r.id, "err", err)
		}
	}
	r.seq.sync()
}

// unsubscribe ends the room's subscription once it has started.
func (n *Node) unsubscribe(r *room) {
	<-r.ready
	r.seq.close()
	close(r.ended)
	n.mu.Lock()
	sub := r.sub
	if n.ending[r.id] == r {
		delete(n.ending, r.id)
	}
	n.mu.Unlock()
	if sub != nil {
		if err := sub.Unsubscribe(); err != nil && !n.nc.IsClosed() {
			n.logger.Warn("unsubscribing from a room failed", "room_id", r.id, "err", err)
		}
	}
}

// reconnected fills every room from the store once the broker is back:
// what was published while the node was away is read from the history.
// nats.go has sent the subscriptions again; the flush makes sure the
// broker has them before the store is read. It also runs on the first
// connect, which may come before Open has returned (hence nc, not n.nc).
func (n *Node) reconnected(nc *natsgo.Conn) {
	n.logger.Info("reached the broker; reading the rooms' messages missed meanwhile")
	n.goWork(func() {
		if err := nc.FlushTimeout(flushTimeout); err != nil {
			n.logger.Warn("the broker did not confirm the subscriptions after a reconnect", "err", err)
		}
		n.mu.Lock()
		rooms := slices.Collect(maps.Values(n.rooms))
		n.mu.Unlock()
		for _, r := range rooms {
			r.seq.sync()
		}
	})
}

// Joined is chatapp.RoomIndex's: the hub records the connection's room
// and, for the room's first member here, the node subscribes to the room
// before $connect returns, so that the client's catch-up read, made
// after, meets the live messages with no gap.
func (n *Node) Joined(c *chatapp.Connection) {
	n.hub.Joined(c)
	n.mu.Lock()
	r := n.rooms[c.RoomID]
	n.mu.Unlock()
	if r != nil {
		<-r.ready
	}
}

// Left is chatapp.RoomIndex's.
func (n *Node) Left(connectionID string) { n.hub.Left(connectionID) }

// Member is chatapp.RoomIndex's: a connection of this node.
func (n *Node) Member(connectionID string) *chatapp.Connection { return n.hub.Member(connectionID) }

// deliver hands message pushes to the room's members on this node, in one
// batch.
func (n *Node) deliver(room string, frames ...[]byte) {
	pushes := make([]chatapp.Push, len(frames))
	for i, f := range frames {
		pushes[i] = chatapp.Push{Kind: chatapp.PushMessage, Data: f}
	}
	n.hub.BroadcastBatch(context.Background(), room, pushes)
}
