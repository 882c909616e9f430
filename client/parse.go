// The frames the server pushes, turned into events; the others skipped.

package client

import (
	"encoding/json"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// skipLogInterval is how often, at most, the client logs a frame it
// skips (not JSON, or of no known kind); the warning counts the ones
// skipped since the last, so a server streaming garbage costs the
// client its parsing only, not a log call a frame.
const skipLogInterval = 10 * time.Second

// parse turns a frame into an event: a message, a presence event or an
// error frame. Anything else is skipped, and logged now and then (skip).
func (c *Client) parse(data []byte) (Event, bool) {
	var f struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		c.skip("frame is not JSON", data, err)
		return Event{}, false
	}
	switch {
	case f.Error != nil:
		e := &Error{Code: f.Error.Code, Message: f.Error.Message}
		e.StatusCode = protocol.ErrorStatus(&chatapp.Error{Code: e.Code})
		return Event{Kind: KindError, Err: e}, true
	case f.ID != "":
		var m chatapp.Message
		if err := json.Unmarshal(data, &m); err != nil {
			c.skip("bad message frame", data, err)
			return Event{}, false
		}
		return Event{Kind: KindMessage, Message: &m}, true
	case f.Type == "join" || f.Type == "leave":
		var p chatapp.PresenceEvent
		if err := json.Unmarshal(data, &p); err != nil {
			c.skip("bad presence frame", data, err)
			return Event{}, false
		}
		kind := KindJoin
		if p.Type == "leave" {
			kind = KindLeave
		}
		return Event{Kind: kind, Presence: &p}, true
	}
	c.skip("unknown frame", data, nil)
	return Event{}, false
}

// skip logs a frame that parse skips, at most once per skipLogInterval,
// with the count of those skipped since the last warning (this one
// included): a server streaming garbage must not turn each frame into a
// log call. Frames that parse are not counted: this costs them nothing.
func (c *Client) skip(why string, data []byte, err error) {
	c.skipped++
	c.skipLog.Do(func() {
		args := []any{"frame", string(data[:min(len(data), 200)]), "skipped", c.skipped}
		if err != nil {
			args = append(args, "err", err)
		}
		c.log.Warn("chatapp client: "+why, args...)
		c.skipped = 0
	})
}
