package nats

import (
	"context"
	"errors"
	"fmt"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp"
)

// The headers of a room's push on the broker; its data is the frame.
const (
	headerKind   = "Chatapp-Kind" // kindMessage or kindPresence
	headerExcept = "Chatapp-Except"

	kindMessage  = "message"
	kindPresence = "presence"
)

// Broadcast is chatapp.Notifier's: the push is published once for the
// other nodes and delivered to this node's members; a message push is a
// batch of one (BroadcastBatch), delivered in the room's order
// (sequencer.go). A done context is refused before anything is sent, as
// the hub refuses it.
//
// The Delivery lists nobody and is Partial: a push reads no table and
// copies no list (nobody reads it: a send whose answer lists the room,
// PUT, asks Members); it counts this node's members as delivered.
func (n *Node) Broadcast(ctx context.Context, roomID string, push chatapp.Push) (chatapp.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return chatapp.Delivery{}, err
	}
	if inChain(push) {
		ds, err := n.BroadcastBatch(ctx, roomID, []chatapp.Push{push})
		if ds == nil {
			return chatapp.Delivery{}, err
		}
		return ds[0], err
	}
	msg := &natsgo.Msg{Subject: roomSubject(roomID), Data: push.Data, Header: natsgo.Header{}}
	if push.Kind == chatapp.PushPresence {
		setHeaders(msg, headerKind, kindPresence, headerExcept, push.Except)
	} else {
		setHeaders(msg, headerKind, kindMessage)
	}
	published := n.nc.PublishMsg(msg)
	if published != nil {
		published = fmt.Errorf("publish to the other nodes: %w", published)
	}
	if push.Kind == chatapp.PushPresence {
		d, err := n.hub.Broadcast(ctx, roomID, push)
		d.Partial = true
		return d, errors.Join(published, err)
	}
	// A message that names no place in the chain (a store that keeps
	// none) is delivered as it comes.
	n.deliver(roomID, push.Data)
	return chatapp.Delivery{Delivered: n.hub.MemberCount(roomID), Partial: true}, published
}

// inChain reports whether push is a message that names its place in the
// room's chain, delivered by the sequencers.
func inChain(push chatapp.Push) bool {
	return push.Kind == chatapp.PushMessage && push.MessageID != ""
}

// receive delivers a push another node published to a room with members
// here.
func (n *Node) receive(r *room, m *natsgo.Msg) {
	switch m.Header.Get(headerKind) {
	case kindMessage: // a message that names no place in the chain
		n.deliver(r.id, m.Data)
	case kindMessages:
		pushes, err := parseBatch(m.Data)
		r.seq.offerAll(pushes)
		if err != nil {
			// What was left out is in the store: the sequencer reads it
			// after its wait, as for any push it lost.
			n.logger.Warn("a malformed batch of pushes on the broker", "subject", m.Subject, "err", err)
			r.seq.lost()
		}
	case kindPresence:
		select {
		case <-r.ended:
			return // the room's next subscription delivers it
		default:
		}
		n.hub.Broadcast(context.Background(), r.id, chatapp.Push{Kind: chatapp.PushPresence, Data: m.Data, Except: m.Header.Get(headerExcept)})
	default:
		n.logger.Warn("a push of an unknown kind on the broker", "subject", m.Subject, "kind", m.Header.Get(headerKind))
	}
}

// Members is chatapp.Notifier's: the room's connections in the whole
// cluster, from the store.
func (n *Node) Members(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	return n.store.FindConnectionsByRoom(ctx, roomID)
}

// setHeaders sets the message's headers from name, value pairs, leaving
// out the empty values (Get reads them as "" all the same).
func setHeaders(m *natsgo.Msg, pairs ...string) {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			m.Header.Set(pairs[i], pairs[i+1])
		}
	}
}
