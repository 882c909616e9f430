// Package chatapp is the domain of a serverless chat: rooms hold messages,
// WebSocket connections join rooms, and a send stores a message and pushes it
// to every connection of its room.
//
// This package holds only types and interfaces. The stores (sqlite, dynamodb,
// postgres), the local API Gateway emulator (gateway), the Lambda handlers
// (handler) and the command (cmd/chatapp) live in packages around it, one per
// dependency.
package chatapp

import "context"

// MessageStore keeps the messages of every room in time order.
type MessageStore interface {
	// CreateMessage stores m, assigning m.ID and m.Timestamp when they are
	// empty. It returns only after the message is committed. A message whose
	// IdempotencyKey its room and user already used is not stored: m is
	// filled with the stored message and the error is ErrDuplicate, or, when
	// the stored message has another text, the error is ECONFLICT (Replay).
	CreateMessage(ctx context.Context, m *Message) error

	// QueueMessage starts storing m, as CreateMessage does, and returns
	// without waiting for the commit; wait then returns what CreateMessage
	// would. Messages queued one after another are committed, and given
	// their ids, in queue order. A store with group commit shares one
	// commit among the messages queued beside each other (sqlite); one
	// without commits m before QueueMessage returns, and its wait returns
	// at once (Committed). The handlers queue a room's sends under the
	// room's lock, so queue order is id order and push order.
	QueueMessage(ctx context.Context, m *Message) (wait func() error, err error)

	// FindReplay answers m as CreateMessage would if m's idempotency key
	// was used, without storing anything: ErrDuplicate with m filled, or
	// ECONFLICT for another text. It returns nil when the key is unused
	// (or m has none). A send refused by the rate limit still gets its
	// replay: a client's retry of a stored message must not read as lost.
	FindReplay(ctx context.Context, m *Message) error

	// FindMessages returns one page of a room's history, oldest first.
	FindMessages(ctx context.Context, filter MessageFilter) (MessagePage, error)
}

// Committed is the wait of a message a store committed (or failed to)
// before QueueMessage returned: it returns err.
func Committed(err error) (wait func() error) { return func() error { return err } }

// ConnectionStore keeps the WebSocket connections of every room: the
// original's "userlist" table.
type ConnectionStore interface {
	// CreateConnection stores c, replacing a row of the same id. When
	// maxPerUser is above 0 and c's user already has that many other
	// connections stored, it stores nothing and returns TooManyConnections
	// (ERATELIMIT). The count and the write are one atomic step where the
	// rows live, so $connects of one user racing each other never pass the
	// cap together, whichever process runs them.
	CreateConnection(ctx context.Context, c *Connection, maxPerUser int) error
	// DeleteConnection removes a connection and returns it, or nil when
	// none was stored (FindConnection would say ENOTFOUND): removing a
	// missing one is not an error. $disconnect learns from it the room to
	// announce the leave in, with no read of its own, and of two deletes
	// of one connection at most one returns it.
	DeleteConnection(ctx context.Context, id string) (*Connection, error)
	// FindConnection returns ENOTFOUND when the connection is not stored.
	FindConnection(ctx context.Context, id string) (*Connection, error)
	// FindConnectionsByRoom returns the room's connections, oldest first.
	// It holds every connection whose CreateConnection returned before it
	// was called: a broadcast reaches every client whose $connect has
	// returned, so a message stored after a client's catch-up read is
	// pushed to it (no gap).
	FindConnectionsByRoom(ctx context.Context, roomID string) ([]*Connection, error)
}

// ConnectionLister lists every stored connection, of every room, in no
// particular order. Only the local gateway's sweeper uses it, to find rows
// whose socket is gone; requests never read a whole table.
type ConnectionLister interface {
	ListConnections(ctx context.Context) ([]*Connection, error)
}

// RoomIndex keeps, in one process's memory, the room each of its
// connections joined: the local hub, so that a broadcast reads no table.
// The functions tell it of each connection $connect stored and
// $disconnect removed. On AWS there is none: API Gateway knows no rooms.
type RoomIndex interface {
	// Joined records c's room once $connect has stored c.
	Joined(c *Connection)
	// Left forgets the room of a connection being removed.
	Left(connectionID string)
	// Member returns the connection joined with that id in this process,
	// nil if there is none here (another process's, or unknown): a
	// sendmessage frame then costs no read of the table. The row may be
	// shared: the caller must not change it.
	Member(connectionID string) *Connection
}

// Notifier pushes frames to WebSocket connections, as API Gateway's
// Management API (PostToConnection) does.
type Notifier interface {
	// Broadcast delivers one encoded frame to every connection of a room that
	// accepts its kind, and reports whom it reached.
	Broadcast(ctx context.Context, roomID string, push Push) (Delivery, error)

	// Members returns the room's connections as Broadcast finds them,
	// without pushing anything: whom a replayed send's answer lists.
	Members(ctx context.Context, roomID string) ([]*Connection, error)

	// Post delivers one frame to one connection. A connection that is gone
	// gives EGONE.
	Post(ctx context.Context, connectionID string, data []byte) error

	// Disconnect ends a connection from the server's side, as the
	// Management API's DeleteConnection does; its $disconnect runs. reason
	// is the close frame's reason where the transport can send one (the
	// local gateway: close 1008; API Gateway closes without one). A
	// connection that is gone is not an error.
	Disconnect(ctx context.Context, connectionID, reason string) error
}

// BatchNotifier is a Notifier that broadcasts several pushes of one room
// in one call, in the order given: a connection gets them together, in
// one write. The handlers push a room's sends that committed together
// this way (a busy room's fan-out then costs one write per connection for
// many messages). A notifier without it gets one Broadcast a push.
type BatchNotifier interface {
	Notifier
	// BroadcastBatch is Broadcast for each push, with a Delivery each; it
	// fails or succeeds as a whole.
	BroadcastBatch(ctx context.Context, roomID string, pushes []Push) ([]Delivery, error)
}

// PushKind tells which connections want a frame.
type PushKind int

const (
	// PushMessage is a chat message: every connection receives it.
	PushMessage PushKind = iota
	// PushPresence is a join or leave event: only connections that opted in
	// receive it, because the original client would take it for a message.
	PushPresence
)

// Push is a frame encoded once for a whole room.
type Push struct {
	Kind PushKind
	Data []byte
	// Except names a connection the push skips: the one whose $connect
	// announces its own join. API Gateway cannot post to a connection
	// before its $connect has returned (410), and a notifier takes a 410
	// for a dead connection and deletes its row.
	Except string
	// MessageID and PrevID place a PushMessage in its room's stored
	// order (Message.PrevID): a notifier that receives a room's messages
	// from several processes delivers them in that order. A notifier of
	// one process needs neither: the handlers push a room's sends in
	// order.
	MessageID, PrevID string
}

// Delivery reports the outcome of a Broadcast.
type Delivery struct {
	// Connections are the room's connections at the time of the broadcast,
	// including those that did not want this kind of push.
	Connections []*Connection
	// Delivered counts connections the frame was handed to; Failed counts
	// posts that failed (gone connections are removed, not retried).
	Delivered int
	Failed    int
	// Partial says Connections lists only part of the room (a cluster
	// node's own members, or none for a send not pushed again): whoever
	// needs the whole room asks Members, a read the push did not need.
	Partial bool
}
