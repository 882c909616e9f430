// A round of a room's message pushes on the broker, as one message: what
// the handlers push together (chatapp.BatchNotifier) travels together, and
// each node delivers it to its members in one batch.

package nats

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp"
)

// kindMessages is the kind of a batch: its data is the pushes, each its
// id, the id stored before it and its frame, each a uvarint length and
// its bytes (appendOffered). Every message that names its place in the
// chain travels so, a batch of one included; a node of a version before
// batches does not deliver them (docs/cluster.md: all nodes run one
// version).
const kindMessages = "messages"

// batchOverhead is what a batch's message may take beyond its data, of
// the broker's largest payload: its subject and headers.
const batchOverhead = 1 << 10

// BroadcastBatch is chatapp.BatchNotifier's: the messages that name their
// place in the room's chain are published in as few broker messages as the
// broker's largest payload allows, and delivered to this node's members in
// one batch, in the room's order; other pushes go one by one before them,
// as Broadcast sends them (the handlers batch messages only). The
// deliveries are Broadcast's.
func (n *Node) BroadcastBatch(ctx context.Context, roomID string, pushes []chatapp.Push) ([]chatapp.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := make([]chatapp.Delivery, len(pushes))
	var messages []offered
	var errs []error
	for i, p := range pushes {
		if !inChain(p) {
			d, err := n.Broadcast(ctx, roomID, p)
			ds[i], errs = d, append(errs, err)
			continue
		}
		messages = append(messages, offered{p.MessageID, p.PrevID, p.Data})
	}
	if len(messages) == 0 {
		return ds, errors.Join(errs...)
	}
	errs = append(errs, n.publishBatch(roomID, messages))
	n.mu.Lock()
	r := n.rooms[roomID]
	n.mu.Unlock()
	if r != nil {
		r.seq.offerAll(messages)
	}
	members := n.hub.MemberCount(roomID)
	for i, p := range pushes {
		if inChain(p) {
			ds[i] = chatapp.Delivery{Delivered: members, Partial: true}
		}
	}
	return ds, errors.Join(errs...)
}

// publishBatch publishes the pushes for the other nodes, in order, cut to
// the broker's largest payload.
func (n *Node) publishBatch(roomID string, pushes []offered) error {
	limit := int(n.nc.MaxPayload()) - batchOverhead
	var data []byte
	publish := func() error {
		if len(data) == 0 {
			return nil
		}
		msg := &natsgo.Msg{Subject: roomSubject(roomID), Data: data, Header: natsgo.Header{}}
		msg.Header.Set(headerKind, kindMessages)
		data = nil
		if err := n.nc.PublishMsg(msg); err != nil {
			return fmt.Errorf("publish to the other nodes: %w", err)
		}
		return nil
	}
	var errs []error
	for _, p := range pushes {
		next := appendOffered(nil, p)
		if len(data) > 0 && len(data)+len(next) > limit {
			errs = append(errs, publish())
		}
		data = append(data, next...)
	}
	return errors.Join(append(errs, publish())...)
}

// appendOffered appends a push to a batch's data.
func appendOffered(b []byte, p offered) []byte {
	for _, field := range [][]byte{[]byte(p.id), []byte(p.prev), p.data} {
		b = binary.AppendUvarint(b, uint64(len(field)))
		b = append(b, field...)
	}
	return b
}

// parseBatch reads a batch's pushes; a batch cut short or malformed gives
// an error, and the pushes read before it.
func parseBatch(b []byte) ([]offered, error) {
	var pushes []offered
	for len(b) > 0 {
		var fields [3][]byte
		for i := range fields {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				return pushes, errors.New("a batch of pushes cut short")
			}
			fields[i], b = b[k:k+int(n)], b[k+int(n):]
		}
		// A copy: a push held for a break must not keep the whole
		// message (up to the broker's largest payload) alive.
		pushes = append(pushes, offered{string(fields[0]), string(fields[1]), bytes.Clone(fields[2])})
	}
	return pushes, nil
}
