// The hub as the local chatapp.RoomIndex: the room each connection
// joined, kept in memory so that a broadcast reads no table.

package hub

import (
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Joined records the room of a connection the $connect function stored
// (chatapp.RoomIndex), and when its token expires. A connection this hub
// does not hold is ignored.
func (h *Hub) Joined(c *chatapp.Connection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	client, ok := h.clients[c.ID]
	if !ok {
		return
	}
	h.leaveLocked(client)
	client.member = c
	if c.ExpiresAt > 0 {
		client.lifetime.expireAt(time.UnixMilli(c.ExpiresAt))
	}
	members := h.rooms[c.RoomID]
	if members == nil {
		members = map[*Client]struct{}{}
		h.rooms[c.RoomID] = members
		if h.watcher != nil {
			h.watcher.RoomOpened(c.RoomID)
		}
	}
	members[client] = struct{}{}
	if c.Presence {
		addTo(h.watching, c.RoomID, client)
	}
}

// addTo adds c to the set of room in sets.
func addTo(sets map[string]map[*Client]struct{}, room string, c *Client) {
	set := sets[room]
	if set == nil {
		set = map[*Client]struct{}{}
		sets[room] = set
	}
	set[c] = struct{}{}
}

// removeFrom removes c from the set of room in sets, and the set once
// empty.
func removeFrom(sets map[string]map[*Client]struct{}, room string, c *Client) {
	delete(sets[room], c)
	if len(sets[room]) == 0 {
		delete(sets, room)
	}
}

// RoomWatcher hears which rooms the hub's connections are in: RoomOpened
// when a room gets its first member here, RoomClosed when its last one
// leaves (a cluster node subscribes to those rooms). The hub calls them
// under its lock, in the order rooms open and close: they must return at
// once, and must not call the hub.
type RoomWatcher interface {
	RoomOpened(roomID string)
	RoomClosed(roomID string)
}

// WatchRooms makes w the hub's RoomWatcher. Call it before a connection
// joins: w hears of the rooms opened from then on.
func (h *Hub) WatchRooms(w RoomWatcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watcher = w
}

// Left drops a connection from its room; its socket stays open.
func (h *Hub) Left(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.clients[id]; ok {
		h.leaveLocked(c)
	}
}

func (h *Hub) leaveLocked(c *Client) {
	if c.member == nil {
		return
	}
	room := c.member.RoomID
	if c.member.Presence {
		removeFrom(h.watching, room, c)
	}
	delete(h.rooms[room], c)
	if len(h.rooms[room]) == 0 {
		delete(h.rooms, room)
		if h.watcher != nil {
			h.watcher.RoomClosed(room)
		}
	}
	c.member = nil
}

// Member returns the connection row of an open connection that joined, nil
// if it is unknown or has not joined: a sendmessage frame then costs no
// read of the table. The row is shared, as Members and Broadcast share
// theirs: nobody may change it.
func (h *Hub) Member(id string) *chatapp.Connection {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if c, ok := h.clients[id]; ok {
		return c.member
	}
	return nil
}

// JoinedConnections returns the rows of every open connection that joined,
// shared as Member's: a cluster node writes them back when another node
// swept them, taking this one for dead.
func (h *Hub) JoinedConnections() []*chatapp.Connection {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var conns []*chatapp.Connection
	for _, members := range h.rooms {
		for c := range members {
			conns = append(conns, c.member)
		}
	}
	return conns
}
