// The history the connection reads: the backlog and baseline at Dial, and
// after a reconnection the catch-up of what was missed, from where it starts.

package client

import (
	"context"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
)

// catchUpOverlap is how far before the last delivered message a catch-up
// reads (docs/protocol.md, "Client algorithm"). Concurrent sends may be
// committed, and pushed, out of id order (on AWS, by several Lambda
// instances, whose clocks differ too), so a message older than the last
// one delivered may still be missing when a connection drops; reading a
// little before it finds that message, and the seen set drops the rest.
const catchUpOverlap = 5 * time.Second

// zeroID is the smallest message id: ?after=zeroID reads a room from its
// beginning.
var zeroID = ulid.ULID{}.String()

// backlog reads, once the first socket is open, the latest Backlog
// messages, which Dial delivers before the live ones, and the baseline: the
// latest message when the socket opened. It and all before it are history,
// delivered only as the Backlog. Anything after it arrives on the socket,
// or from a catch-up after a drop.
func (c *Client) backlog(ctx context.Context) (backlog []*chatapp.Message, baseline string, err error) {
	latest, err := c.latest(ctx, max(c.cfg.Backlog, 1))
	if err != nil {
		return nil, "", err
	}
	if n := len(latest); n > 0 {
		baseline = latest[n-1].ID
	}
	if c.cfg.Backlog > 0 {
		backlog = latest
	}
	return backlog, baseline, nil
}

// latest reads the room's n latest messages, oldest first. The server ends
// a page early when its messages are large (a page is bounded in bytes), so
// it follows NextCursor until it has n or has reached the room's beginning.
func (c *Client) latest(ctx context.Context, n int) ([]*chatapp.Message, error) {
	var out []*chatapp.Message
	opts := HistoryOptions{}
	for len(out) < n {
		opts.Limit = n - len(out)
		page, err := c.History(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(page.Messages, out...)
		if page.NextCursor == "" || len(page.Messages) == 0 {
			break
		}
		opts.Cursor = page.NextCursor
	}
	return out, nil
}

// catchUp reads every message after the resume cursor, page by page, for as
// long as the server says it has more (a page may end before its limit)
// and the pages advance: a server that says has_more without moving on
// would otherwise be asked forever. It runs once the new socket is open,
// so a message is either in it or pushed on the socket (or both: dedupe
// drops the second).
func (c *Client) catchUp(ctx context.Context) ([]*chatapp.Message, error) {
	after := c.dedupe.resumeAfter()
	var out []*chatapp.Message
	for {
		page, err := c.History(ctx, HistoryOptions{Limit: chatapp.MaxHistoryLimit, After: after})
		if err != nil {
			return nil, fmt.Errorf("client: catch up: %w", err)
		}
		out = append(out, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return out, nil
		}
		last := page.Messages[len(page.Messages)-1].ID
		if last <= after {
			return out, nil
		}
		after = last
	}
}

// resumeAfter is the ?after= cursor of a catch-up: a little before the last
// message delivered (see catchUpOverlap), and never below the floor. With
// nothing delivered and no floor (the room was empty at Dial), it is the
// room's beginning.
func (d *dedupe) resumeAfter() string {
	base := max(d.last, d.floor)
	if base == "" {
		return zeroID
	}
	id, err := ulid.ParseStrict(base)
	if err != nil {
		return base
	}
	ms := int64(id.Time()) - catchUpOverlap.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	var back ulid.ULID
	if back.SetTime(uint64(ms)) != nil {
		return base
	}
	return max(back.String(), d.floor)
}
