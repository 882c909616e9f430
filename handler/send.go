package handler

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// send validates, stores and pushes one message: the path shared by REST
// PUT and the WebSocket sendmessage route. The push is encoded once for the
// whole room. A failed push never fails the send: the message is stored and
// the client can read it from history.
//
// A retried send (same idempotency key) is neither stored nor pushed again:
// m is filled with the stored message and replayed is true.
func (h *Handler) send(ctx context.Context, m *chatapp.Message) (delivery chatapp.Delivery, replayed bool, err error) {
	if err := m.Validate(); err != nil {
		return chatapp.Delivery{}, false, err
	}
	if err := h.allowSend(m.UserID); err != nil {
		return chatapp.Delivery{}, false, err
	}
	if q, ok := h.Messages.(chatapp.MessageQueuer); ok {
		return h.sendQueued(ctx, q, m)
	}
	// The id is assigned inside the room's lock, so pushes leave in id order.
	unlock := h.rooms.lock(m.RoomID)
	defer unlock()
	return h.push(ctx, m, h.Messages.CreateMessage(ctx, m))
}

// sendQueued is send on a store with group commit: the message is queued
// under the room's lock (so queue order, which is id order, is ticket
// order), its commit is shared with the room's other sends, and it is pushed
// in ticket order.
func (h *Handler) sendQueued(ctx context.Context, q chatapp.MessageQueuer, m *chatapp.Message) (chatapp.Delivery, bool, error) {
	var wait func() error
	var err error
	waitTurn, done := h.rooms.ticket(m.RoomID, func() { wait, err = q.QueueMessage(ctx, m) })
	defer done()
	if err == nil {
		err = wait()
	}
	waitTurn()
	return h.push(ctx, m, err)
}

// push finishes a send whose store call returned err: a replay is answered
// with the room's connections, a stored message is pushed to the room.
func (h *Handler) push(ctx context.Context, m *chatapp.Message, err error) (delivery chatapp.Delivery, replayed bool, _ error) {
	if errors.Is(err, chatapp.ErrDuplicate) {
		conns, err := h.Connections.FindConnectionsByRoom(ctx, m.RoomID)
		return chatapp.Delivery{Connections: conns}, true, err
	}
	if err != nil {
		return chatapp.Delivery{}, false, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return chatapp.Delivery{}, false, err
	}
	delivery, err = h.Notifier.Broadcast(ctx, m.RoomID, chatapp.Push{Kind: chatapp.PushMessage, Data: data})
	if err != nil {
		h.logger().ErrorContext(ctx, "broadcast failed", "room_id", m.RoomID, "message_id", m.ID, "err", err)
	}
	return delivery, false, nil
}

// allowSend takes one send from the user's budget.
func (h *Handler) allowSend(userID string) error {
	if h.SendLimiter == nil {
		return nil
	}
	if ok, retry := h.SendLimiter.Allow(userID); !ok {
		e := chatapp.Errorf(chatapp.ERATELIMIT, "too many messages: retry in %v", retry.Round(time.Millisecond))
		e.RetryAfter = retry
		return e
	}
	return nil
}
