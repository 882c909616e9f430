package gateway

import (
	"context"

	"github.com/chatapp-dev/chatapp"
)

// TrackConnections wraps the connection store given to in-process
// functions, so that the hub learns each connection's room when $connect
// stores it and forgets it when it is deleted. This is how a local
// broadcast finds a room's sockets without reading the table.
func (h *Hub) TrackConnections(store chatapp.ConnectionStore) chatapp.ConnectionStore {
	return &trackingStore{ConnectionStore: store, hub: h}
}

type trackingStore struct {
	chatapp.ConnectionStore
	hub *Hub
}

func (t *trackingStore) CreateConnection(ctx context.Context, c *chatapp.Connection, maxPerUser int) error {
	if err := t.ConnectionStore.CreateConnection(ctx, c, maxPerUser); err != nil {
		return err
	}
	t.hub.join(c)
	return nil
}

func (t *trackingStore) DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	c, err := t.ConnectionStore.DeleteConnection(ctx, id)
	if err != nil {
		return nil, err
	}
	t.hub.leave(id)
	return c, nil
}

// FindConnection answers from memory for a connection joined through this
// gateway: a sendmessage frame then costs no read of the table. Others
// (rows of another process, or left by a crash) come from the store.
func (t *trackingStore) FindConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	if c := t.hub.member(id); c != nil {
		return c, nil
	}
	return t.ConnectionStore.FindConnection(ctx, id)
}
