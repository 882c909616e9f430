// The history the connection reads: the backlog at Dial, and
// after a reconnection the catch-up of what was missed, from where it starts.

package client

import (
	"context"
	"errors"
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
// messages, which Dial delivers before the live ones (with no Backlog, the
// latest one, delivered not at all). They are the room's past: a catch-up
// after a drop reads nothing older than the newest of them. Anything
// after it arrives on the socket, or from a catch-up.
func (c *Client) backlog(ctx context.Context) ([]*chatapp.Message, error) {
	latest, err := c.latest(ctx, max(c.cfg.Backlog, 1))
	if err != nil {
		return nil, err
	}
	newest := ""
	if n := len(latest); n > 0 {
		newest = latest[n-1].ID
	}
	if c.cfg.Backlog > 0 {
		c.dedupe.started(nil, newest) // delivered by run, as new
		return latest, nil
	}
	ids := make([]string, len(latest))
	for i, m := range latest {
		ids[i] = m.ID
	}
	c.dedupe.started(ids, newest)
	return nil, nil
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

// catchUpMaxPages bounds a catch-up: at most this many pages (of up to
// 1000 messages and 1 MiB each) are read and held before they are
// delivered. Past it the client says so (ErrCatchUpTruncated) and goes on
// live: the rest is in the history.
const catchUpMaxPages = 100

// ErrCatchUpTruncated is the Err of a KindError event after a catch-up
// that stopped at catchUpMaxPages pages while the server had more: the
// messages between the last one delivered and the live ones are in the
// history (History with After).
var ErrCatchUpTruncated = errors.New("client: more was missed than one catch-up reads (100 pages): read the rest with History")

// catchUp reads every message after the resume cursor, page by page, for as
// long as the server says it has more (a page may end before its limit)
// and the pages advance (a server that says has_more without moving on
// would otherwise be asked forever), up to catchUpMaxPages pages. It runs
// once the new socket is open, so a message is either in it or pushed on
// the socket (or both: dedupe drops the second).
func (c *Client) catchUp(ctx context.Context) (out []*chatapp.Message, truncated bool, err error) {
	after := c.dedupe.resumeAfter()
	for range catchUpMaxPages {
		page, err := c.History(ctx, HistoryOptions{Limit: chatapp.MaxHistoryLimit, After: after})
		if err != nil {
			return nil, false, fmt.Errorf("client: catch up: %w", err)
		}
		out = append(out, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return out, false, nil
		}
		last := page.Messages[len(page.Messages)-1].ID
		if last <= after {
			return out, false, nil
		}
		after = last
	}
	return out, true, nil
}
