package gateway

import (
	"context"

	"github.com/chatapp-dev/chatapp/hub"
)

// Connections are what the Management API (/@connections/{id}) reaches:
// the gateway's own hub's, or, on a node of a cluster, every node's (the
// node routes each request to the node that holds the connection). A
// connection, or a node, that is gone gives chatapp.EGONE.
type Connections interface {
	Post(ctx context.Context, connectionID string, data []byte) error
	GetConnection(ctx context.Context, connectionID string) (hub.ConnectionInfo, error)
	DeleteConnection(ctx context.Context, connectionID string) error
}

// hubConnections are the connections of one hub: a gateway's on one
// machine.
type hubConnections struct{ hub *hub.Hub }

func (h hubConnections) Post(ctx context.Context, connectionID string, data []byte) error {
	return h.hub.Post(ctx, connectionID, data)
}

func (h hubConnections) GetConnection(_ context.Context, connectionID string) (hub.ConnectionInfo, error) {
	return h.hub.GetConnection(connectionID)
}

func (h hubConnections) DeleteConnection(_ context.Context, connectionID string) error {
	return h.hub.DeleteConnection(connectionID)
}
