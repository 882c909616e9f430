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
	// orders the room's ids; it is pushed in that order, with the sends
	// ready beside it (roomLocks). A store with group commit shares the
	// commit with the sends queued beside it.
	turn := h.rooms.take(m.RoomID)
	defer turn.settle() // whatever happens, a panic of the store's included
	wait, err := h.queue(ctx, m, turn)
	if err == nil {
		chatapp.Placed(ctx) // the connection's next frame may be routed
		err = wait()
	}
	if err != nil {
		turn.push(nil, nil)
		return unpushed(err)
	}
	s := &roundSend{ctx: ctx, m: m}
	turn.push(s, h.pushRound)
	return s.delivery, false, s.err
}

// queue queues m for its commit in its turn, and lets the room's next send
// take its turn once m is queued, even if the store panics: the room would
// otherwise stay locked for good.
func (h *Handler) queue(ctx context.Context, m *chatapp.Message, t *turn) (wait func() error, err error) {
	defer t.queued()
	return h.Messages.QueueMessage(ctx, m)
}

// unpushed answers a send that is not pushed: its store failed, or it was
// a replay (its Delivery lists nobody: see Delivery.Partial).
func unpushed(err error) (chatapp.Delivery, bool, error) {
	if errors.Is(err, chatapp.ErrDuplicate) {
		return chatapp.Delivery{Partial: true}, true, nil
	}
	return chatapp.Delivery{}, false, err
}

// roundSend is a committed send in its room's round of pushes, and what
// its push gave.
type roundSend struct {
	ctx      context.Context
	m        *chatapp.Message
	delivery chatapp.Delivery
	err      error
}

// pushRound pushes a round of a room's committed sends in their order: in
// one BroadcastBatch where the notifier has it, so that each connection
// gets the round in one write. A send whose context is done is not pushed,
// as Broadcast refuses it.
func (h *Handler) pushRound(round []*roundSend) {
	live := make([]*roundSend, 0, len(round))
	pushes := make([]chatapp.Push, 0, len(round))
	for _, s := range round {
		data, err := marshal(s.m)
		if err != nil {
			s.err = err
			continue
		}
		if err := s.ctx.Err(); err != nil {
			h.pushFailed(s, err)
			continue
		}
		live = append(live, s)
		pushes = append(pushes, chatapp.Push{Kind: chatapp.PushMessage, Data: data, MessageID: s.m.ID, PrevID: s.m.PrevID})
	}
	if len(live) == 0 {
		return
	}
	b, batches := h.Notifier.(chatapp.BatchNotifier)
	if !batches {
		for i, s := range live {
			var err error
			if s.delivery, err = h.Notifier.Broadcast(s.ctx, s.m.RoomID, pushes[i]); err != nil {
				h.pushFailed(s, err)
			}
		}
		return
	}
	// Each send's context was checked above; one that ends during the
	// batch must not fail the others' pushes.
	ds, err := b.BroadcastBatch(context.WithoutCancel(live[0].ctx), live[0].m.RoomID, pushes)
	for i, s := range live {
		if err != nil {
			h.pushFailed(s, err)
			continue
		}
		s.delivery = ds[i]
	}
}

func (h *Handler) pushFailed(s *roundSend, err error) {
	h.logger().ErrorContext(s.ctx, "broadcast failed", "room_id", s.m.RoomID, "message_id", s.m.ID, "err", err)
}

// replayPastLimit answers a send the rate limit refused with limited,
// unless it is the retry of a stored send (its idempotency key is used):
// that one gets its replay, as within the limit, so that a client's retry
// of a message the server has never reads as lost (and is not sent again
// as a new one). The lookup stores nothing; lookups past the limit are
// bounded as every request is, by the gateway's concurrency limits.
func (h *Handler) replayPastLimit(ctx context.Context, m *chatapp.Message, limited error) (chatapp.Delivery, bool, error) {
	// An earlier frame of the connection may be storing this very send.
	if err := chatapp.AwaitEarlierFrames(ctx); err != nil {
		return chatapp.Delivery{}, false, limited
	}
	switch err := h.Messages.FindReplay(ctx, m); { // nil without a key
	case errors.Is(err, chatapp.ErrDuplicate):
		return unpushed(err)
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
