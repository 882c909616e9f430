package nats

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatapp-dev/chatapp/hub"
)

// The Management API's GetConnection and DeleteConnection on a node:
// gateway.Connections of the whole cluster, routed as Post is (route.go)
// to the node whose tag begins the connection's id. PostToConnection is
// the node's Post.

// GetConnection describes a connection of any node; one that is gone, or
// whose node is, gives EGONE.
func (n *Node) GetConnection(ctx context.Context, connectionID string) (hub.ConnectionInfo, error) {
	if n.answersHere(connectionID) {
		return n.hub.GetConnection(connectionID)
	}
	data, err := n.request(ctx, connectionID, opGet, nil, "")
	if err != nil {
		return hub.ConnectionInfo{}, err
	}
	var info hub.ConnectionInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return hub.ConnectionInfo{}, fmt.Errorf("the node of connection %s answered %q: %w", connectionID, data, err)
	}
	return info, nil
}

// DeleteConnection closes a connection of any node with 1000; one that is
// gone, or whose node is, gives EGONE.
func (n *Node) DeleteConnection(ctx context.Context, connectionID string) error {
	if n.answersHere(connectionID) {
		return n.hub.DeleteConnection(connectionID)
	}
	_, err := n.request(ctx, connectionID, opDelete, nil, "")
	return err
}

// describeConnection is a GetConnection's answer to another node.
func (n *Node) describeConnection(connectionID string) ([]byte, error) {
	info, err := n.hub.GetConnection(connectionID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(info)
}
