package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/nats"
)

// joinCluster makes this process a node of the cluster on cfg.Broker: its
// functions push and look up rooms through the node, which reaches every
// node's sockets. Without a broker the hub is both, as on one machine.
func (s *Server) joinCluster(ctx context.Context, cfg ServeConfig, db store) (chatapp.Notifier, chatapp.RoomIndex, error) {
	if cfg.Broker == "" {
		return s.hub, s.hub, nil
	}
	nodes, ok := db.(nodeStore)
	if !ok {
		return nil, nil, errors.New("--broker needs --store postgres")
	}
	// A node is alive while the others would not sweep it (heartbeat.go).
	alive := func(ctx context.Context, tag string) (bool, error) {
		return nodes.NodeAlive(ctx, tag, deadAfter(cfg.Heartbeat, cfg.SweepGrace))
	}
	node, err := nats.Open(ctx, nats.Config{URL: cfg.Broker, Hub: s.hub, Store: db, Logger: cfg.Logger, Claim: nodes.ClaimNode, Alive: alive})
	if err != nil {
		return nil, nil, err
	}
	if !node.Connected() {
		cfg.Logger.Warn("the broker is not reachable yet: this node serves its own members, and joins the cluster once it is", "broker", nats.Describe(cfg.Broker))
	}
	s.node = node
	return node, node, nil
}

// A node reaches the connections of every node for the Management API.
var _ gateway.Connections = (*nats.Node)(nil)

// managementConnections are what the Management API reaches: with a
// broker, the connections of every node, through the node; nil without
// (the gateway's own hub).
func (s *Server) managementConnections() gateway.Connections {
	if s.node == nil {
		return nil
	}
	return s.node
}

// closeAll closes each in order: the node before the store its
// sequencers read.
type closeAll []io.Closer

func (c closeAll) Close() error {
	var errs []error
	for _, closer := range c {
		errs = append(errs, closer.Close())
	}
	return errors.Join(errs...)
}

// ownRows are the connection rows of one node: with several nodes on one
// database, a node sweeps only the rows whose ids carry its tag, and
// reads those alone (an index range, not the table); the others' sockets
// are in their hubs, not this one. A dead node's rows are swept by the
// others' heartbeats (heartbeat.go).
type ownRows struct {
	nodeStore
	tag string
}

func (r ownRows) ListConnections(ctx context.Context) ([]*chatapp.Connection, error) {
	return r.ListConnectionsOfTags(ctx, []string{r.tag})
}

// nodeTag is the tag that begins the node's connection ids, "" on one
// machine.
func (s *Server) nodeTag() string {
	if s.node == nil {
		return ""
	}
	return s.node.Tag()
}

// describeCluster is the banner's line of the broker, if any.
func (s *Server) describeCluster(cfg ServeConfig) string {
	if s.node == nil {
		return ""
	}
	reach := ""
	if !s.node.Connected() {
		reach = " (not reachable yet: joins once it is)"
	}
	return fmt.Sprintf("  cluster         node %s on the broker %s%s\n", s.node.Tag(), nats.Describe(cfg.Broker), reach)
}
