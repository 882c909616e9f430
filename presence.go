package chatapp

import (
	"context"
	"time"
)

// Presence event types.
const (
	PresenceJoin  = "join"
	PresenceLeave = "leave"
)

// ConnectionDeleter is the part of a ConnectionStore that RemoveConnection
// needs.
type ConnectionDeleter interface {
	DeleteConnection(ctx context.Context, id string) (*Connection, error)
}

// AnnouncePresence pushes a join or leave event (typ) of c to the
// connections of its room that asked for presence events. c itself is
// skipped: its $connect has not returned yet, or it is gone.
func AnnouncePresence(ctx context.Context, n Notifier, typ string, c *Connection, now time.Time) error {
	data, err := MarshalJSON(PresenceEvent{
		Type: typ, RoomID: c.RoomID, ConnectionID: c.ID, UserID: c.UserID, Name: c.Name, Timestamp: now.UnixMilli(),
	})
	if err != nil {
		return err
	}
	_, err = n.Broadcast(ctx, c.RoomID, Push{Kind: PushPresence, Data: data, Except: c.ID})
	return err
}

// RemoveConnection deletes connection id and, when this delete is the one
// that removed it, announces its leave to its room through n. Every path
// that deletes a connection goes through it ($disconnect, a notifier's
// 410, the local gateway's sweep of stale rows): of deletes racing each
// other only one gets the connection back (ConnectionStore), so the leave
// is announced once, by whichever won, and never lost to a delete that
// did not announce.
//
// It returns the connection removed, nil when none was stored. An error
// with a connection is the announcement's: the row is gone all the same.
func RemoveConnection(ctx context.Context, store ConnectionDeleter, n Notifier, id string, now time.Time) (*Connection, error) {
	c, err := store.DeleteConnection(ctx, id)
	if err != nil || c == nil {
		return nil, err
	}
	return c, AnnouncePresence(ctx, n, PresenceLeave, c, now)
}
