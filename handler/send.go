package handler

import (
	"context"
	"encoding/json"
	"errors"

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
	// The id is assigned inside the room's lock, so pushes leave in id order.
	unlock := h.rooms.lock(m.RoomID)
	defer unlock()
	err = h.Messages.CreateMessage(ctx, m)
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
