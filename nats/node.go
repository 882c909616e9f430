// Package nats joins the `chatapp serve` processes of a cluster (nodes,
// sharing one PostgreSQL store) through a NATS server (nats.go): a Node is
// a process's chatapp.Notifier and chatapp.RoomIndex, wrapping its local
// hub.
//
// A broadcast reaches the node's own members of the room, and is
// published once on the room's subject (subjects.go); every other node
// with members in the room delivers it to them. A node subscribes only to
// the rooms its connections are in, as its hub opens and closes them
// (rooms.go). Message pushes are delivered on every node in the room's
// stored order, each once, by a sequencer per room (sequencer.go) that
// fills what the broker lost from the store; presence pushes need no
// order. A post to a connection of another node goes to that node, named
// by the tag its connection ids begin with (route.go). The store, not the
// broker, is the truth: the members of a room are its rows, and a message
// the broker dropped is read from the history.
//
// The package knows NATS and the hub; it knows no HTTP and no SQL.
package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/budget"
)

// Store is what a node reads of the cluster's store: a room's history, to
// fill breaks, and its connections, the cluster's members.
type Store interface {
	MessageReader
	FindConnectionsByRoom(ctx context.Context, roomID string) ([]*chatapp.Connection, error)
}

// Config is what a node is opened with.
type Config struct {
	// URL is the NATS server's, e.g. nats://127.0.0.1:4222 (several,
	// comma-separated, for a NATS cluster).
	URL    string
	Hub    *hub.Hub
	Store  Store
	Logger *slog.Logger
	// Claim, if set, takes a tag for this node in the store, reporting
	// false if another node holds it: the check of a tag while the broker
	// is out of reach, and against a node the broker has not seen yet.
	Claim func(ctx context.Context, tag string) (bool, error)
	// Alive, if set, reports whether the store takes the node of a tag
	// for alive: a node that does not answer on the broker is gone only
	// if it is not (route.go). Without it, a node that does not answer is.
	Alive func(ctx context.Context, tag string) (bool, error)
}

// Timeouts of a node's round trips to the broker.
const (
	// flushTimeout bounds the wait for the broker to confirm a
	// subscription; past it the reconnect's fill covers the room.
	flushTimeout = 2 * time.Second
	// requestTimeout bounds a post to another node's connection when the
	// caller's context sets no deadline.
	requestTimeout = 5 * time.Second
	// reconnectWait is the pause between attempts to reach the broker
	// again, forever.
	reconnectWait = 250 * time.Millisecond
)

// Node is one process of a cluster: its hub, seen by the functions as a
// notifier and room index of the whole cluster.
type Node struct {
	hub    *hub.Hub
	store  Store
	logger *slog.Logger
	nc     *natsgo.Conn
	tag    string
	claim  func(ctx context.Context, tag string) (bool, error)
	alive  func(ctx context.Context, tag string) (bool, error)
	held   *budget.Bytes // the pushes its rooms hold for breaks (maxHeldBytes)

	mu     sync.Mutex
	rooms  map[string]*room // rooms with members here
	ending map[string]*room // rooms whose subscription is ending
	closed bool
	work   sync.WaitGroup // the goroutines of rooms opening and closing, and of fills
}

var (
	_ chatapp.Notifier  = (*Node)(nil)
	_ chatapp.RoomIndex = (*Node)(nil)
	_ hub.RoomWatcher   = (*Node)(nil)
)

// Open connects to the broker, takes a tag no other node has, serves
// the requests of other nodes, and watches cfg.Hub's rooms. Call it before
// the hub's connections join rooms. The node reconnects to the broker for
// as long as it lives; a broker out of reach at start is tried until it
// answers (Connected says whether it has), meanwhile the node serves its
// own members, and it fills every room once it joins.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	n := &Node{hub: cfg.Hub, store: cfg.Store, logger: cfg.Logger, claim: cfg.Claim, alive: cfg.Alive, held: &budget.Bytes{Limit: maxHeldBytes}, rooms: map[string]*room{}, ending: map[string]*room{}}
	if n.logger == nil {
		n.logger = slog.Default()
	}
	nc, err := natsgo.Connect(cfg.URL,
		natsgo.Name("chatapp"),
		// A node delivers its own pushes itself, broker or not.
		natsgo.NoEcho(),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(reconnectWait),
		natsgo.RetryOnFailedConnect(true),
		// The first connect of a node started without its broker is
		// reported as a connect, not a reconnect: both fill the rooms.
		natsgo.ConnectHandler(n.reconnected),
		natsgo.ReconnectHandler(n.reconnected),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				n.logger.Warn("lost the broker; reconnecting", "err", err)
			}
		}),
		natsgo.ErrorHandler(n.asyncError),
	)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", Describe(cfg.URL), err)
	}
	n.nc = nc
	if err := n.serveRequests(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	n.hub.WatchRooms(n)
	return n, nil
}

// Describe names the broker of url (comma-separated URLs) for a log or a
// banner: the URLs without the user and password they may hold.
func Describe(url string) string {
	parts := strings.Split(url, ",")
	for i, part := range parts {
		if u, err := neturl.Parse(strings.TrimSpace(part)); err == nil && u.User != nil {
			u.User = nil
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// Connected reports whether the node is on the broker now.
func (n *Node) Connected() bool { return n.nc.IsConnected() }

// Tag is the node's tag, which begins its connection ids.
func (n *Node) Tag() string { return n.tag }

// Owns reports whether a connection id is one this node minted.
func (n *Node) Owns(connectionID string) bool { return tagOf(connectionID) == n.tag }

// Close ends the node's subscriptions and its connection to the broker,
// once what it published is sent. Call it after the hub's Shutdown: the
// leaves announced then are published.
func (n *Node) Close() error {
	n.mu.Lock()
	n.closed = true
	rooms := slices.Collect(maps.Values(n.rooms))
	n.mu.Unlock()
	// Not under the node's lock: a sequencer delivering to the hub holds
	// its own while it waits for the hub's, whose holder may wait for the
	// node's (RoomOpened).
	for _, r := range rooms {
		r.seq.close()
	}
	n.work.Wait()
	// The broker has what this node published (the leaves of its
	// connections) once it answers a flush; Close would only write it out.
	// Without the broker, the other nodes read the rows' absence from the
	// store: users lists nobody gone.
	if n.nc.IsConnected() {
		if err := n.nc.FlushTimeout(flushTimeout); err != nil {
			n.logger.Warn("the broker did not confirm this node's last pushes", "err", err)
		}
	}
	n.nc.Close()
	return nil
}

// goWork runs f in a goroutine that Close waits for, unless the node is
// closing; it reports whether it did.
func (n *Node) goWork(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.work.Go(f)
	return true
}

// asyncError logs what the broker connection reports on its own. A slow
// subscription had messages dropped: its room is read from the store.
func (n *Node) asyncError(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
	n.logger.Warn("broker error", "err", err)
	if sub == nil || !errors.Is(err, natsgo.ErrSlowConsumer) {
		return
	}
	var slow *room
	n.mu.Lock()
	for _, r := range n.rooms {
		if r.sub == sub {
			slow = r
		}
	}
	n.mu.Unlock()
	if slow != nil {
		n.goWork(slow.seq.sync)
	}
}
