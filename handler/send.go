package handler

import (
	"context"
	"errors"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// send validates, stores and pushes one message: the path shared by REST
// PUT and the WebSocket sendmessage route. The push is encoded once for the
// whole room, without HTML escaping (see encoder). A failed push never
// fails the send: the message is stored and the client can read it from
// history.
//
// A retried send (same idempotency key) is neither stored nor pushed again:
// m is filled with the stored message and replayed is true.
func (h *Handler) send(ctx context.Context, m *chatapp.Message) (delivery chatapp.Delivery, replayed bool, err error) {
	if err := m.Validate(); err != nil {
		return chatapp.Delivery{}, false, err
	}
	if err := h.allowSend(m.UserID); err != nil {
		return h.replayPastLimit(ctx, m, err)
	}
	// The message is queued for its commit in its room's turn, which
	// orders the room's ids; it is pushed in that order. A store with
	// group commit shares the commit with the sends queued beside it.
	turn := h.rooms.take(m.RoomID)
	defer turn.done() // whatever happens, a panic of the store's included
	wait, err := h.queue(ctx, m, turn)
	if err == nil {
		err = wait()
	}
	turn.wait()
	return h.push(ctx, m, err)
}

// queue queues m for its commit in its turn, and lets the room's next send
// take its turn once m is queued, even if the store panics: the room would
// otherwise stay locked for good.
func (h *Handler) queue(ctx context.Context, m *chatapp.Message, t *turn) (wait func() error, err error) {
	defer t.queued()
	return h.Messages.QueueMessage(ctx, m)
}

// push finishes a send whose store call returned err: a stored message is
// pushed to the room, a replay is not (its Delivery lists nobody: see
// Delivery.Partial).
func (h *Handler) push(ctx context.Context, m *chatapp.Message, err error) (delivery chatapp.Delivery, replayed bool, _ error) {
	if errors.Is(err, chatapp.ErrDuplicate) {
		return chatapp.Delivery{Partial: true}, true, nil
	}
	if err != nil {
		return chatapp.Delivery{}, false, err
	}
	data, err := marshal(m)
	if err != nil {
		return chatapp.Delivery{}, false, err
	}
	delivery, err = h.Notifier.Broadcast(ctx, m.RoomID, chatapp.Push{Kind: chatapp.PushMessage, Data: data, MessageID: m.ID, PrevID: m.PrevID})
	if err != nil {
		h.logger().ErrorContext(ctx, "broadcast failed", "room_id", m.RoomID, "message_id", m.ID, "err", err)
	}
	return delivery, false, nil
}

// replayPastLimit answers a send the rate limit refused with limited,
// unless it is the retry of a stored send (its idempotency key is used):
// that one gets its replay, as within the limit, so that a client's retry
// of a message the server has never reads as lost (and is not sent again
// as a new one). The lookup stores nothing; lookups past the limit are
// bounded as every request is, by the gateway's concurrency limits.
func (h *Handler) replayPastLimit(ctx context.Context, m *chatapp.Message, limited error) (chatapp.Delivery, bool, error) {
	switch err := h.Messages.FindReplay(ctx, m); { // nil without a key
	case errors.Is(err, chatapp.ErrDuplicate):
		return h.push(ctx, m, err)
	case chatapp.ErrorCode(err) == chatapp.ECONFLICT:
		return chatapp.Delivery{}, false, err // the key holds another text: waiting will not help
	case err != nil:
		h.logger().WarnContext(ctx, "idempotency lookup past the send rate failed", "room_id", m.RoomID, "err", err)
	}
	return chatapp.Delivery{}, false, limited
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
