package handler

import (
	"context"
	"encoding/json"

	"github.com/chatapp-dev/chatapp"
)

// send validates, stores and pushes one message: the path shared by REST
// PUT and the WebSocket sendmessage route. The push is encoded once for the
// whole room. A failed push never fails the send: the message is stored and
// the client can read it from history.
func (h *Handler) send(ctx context.Context, m *chatapp.Message) (chatapp.Delivery, error) {
	if err := m.Validate(); err != nil {
		return chatapp.Delivery{}, err
	}
	if err := h.Messages.CreateMessage(ctx, m); err != nil {
		return chatapp.Delivery{}, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return chatapp.Delivery{}, err
	}
	delivery, err := h.Notifier.Broadcast(ctx, m.RoomID, chatapp.Push{Kind: chatapp.PushMessage, Data: data})
	if err != nil {
		h.logger().ErrorContext(ctx, "broadcast failed", "room_id", m.RoomID, "message_id", m.ID, "err", err)
	}
	return delivery, nil
}
