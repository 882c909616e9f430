// The inbound frame budget of a connection: every frame counts.

package hub

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// maxRefusedFrames is how many refused frames a connection may run up
// beyond what it is refused at its own rate: a client that keeps sending
// several times faster than it is allowed is flooding, not chatting.
const maxRefusedFrames = 100

// frameThrottle is one connection's budget of inbound frames, and its
// budget of refusals. It is used by the connection's read loop only.
type frameThrottle struct {
	lim     *rate.Limiter
	strikes *rate.Limiter // refusals; spent, the connection is closed
	refused bool          // the last frame was refused (to log once an episode)
}

// allowFrame takes one frame (data, ping or pong, each fragment of a
// message) from the client's budget, as API Gateway's route throttling
// does. Over it, the frame is dropped (a ping is not answered) and the
// client gets a rate_limited error frame, handed to h (Refused) to send
// after the answers of the frames before; once its refusals outrun the
// frame rate by maxRefusedFrames, the connection is closed with 1008. Each
// episode is logged once.
func (c *Client) allowFrame(limits *Limits, h Handler) bool {
	if limits.FrameRate <= 0 {
		return true
	}
	if c.isClosing() {
		return false // closed for flooding; the read loop is ending
	}
	t := &c.throttle
	if t.lim == nil {
		t.lim = rate.NewLimiter(rate.Limit(limits.FrameRate), max(limits.FrameBurst, 1))
		t.strikes = rate.NewLimiter(rate.Limit(limits.FrameRate), maxRefusedFrames)
	}
	now := time.Now()
	r := t.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		t.refused = false
		return true
	}
	r.CancelAt(now)
	logger := c.hub.logger
	if !t.strikes.AllowN(now, 1) {
		logger.Warn("closing a flooding connection", "connection_id", c.id, "rate", limits.FrameRate)
		c.Close(DisconnectFlood)
		return false
	}
	if !t.refused {
		t.refused = true
		logger.Info("frame rate limit exceeded", "connection_id", c.id, "rate", limits.FrameRate, "burst", limits.FrameBurst)
	}
	e := chatapp.Errorf(chatapp.ERATELIMIT, "too many frames: retry in %v", delay.Round(time.Millisecond))
	h.Refused(c, protocol.EncodeError(e))
	return false
}
