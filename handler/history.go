package handler

import (
	"strings"

	"github.com/chatapp-dev/chatapp"
)

// MaxHistoryBodyBytes bounds the body of one GET /chat page. On AWS the
// function's response must stay under Lambda's 6 MB payload limit, or API
// Gateway answers 502 and a client reading the room fails for good. That
// payload is the proxy response as JSON, in which the body is itself a JSON
// string: aws-lambda-go encodes it without HTML escaping, so each of the
// body's bytes takes at most two (a " or a \ doubles; the body holds no raw
// control character, U+2028 or U+2029, which the body's own encoding
// escaped), and a page stays under 2 MiB and some headers whatever its
// messages hold. A page that would be larger ends early, with next_cursor or
// has_more set: a client reads the rest as it reads any next page.
const MaxHistoryBodyBytes = 1 << 20

// historyEnvelope is the part of the budget kept for what surrounds the
// messages: {"messages":[],"next_cursor":"..."} or ,"has_more":true.
const historyEnvelope = 256

// historyLoadBytes is the byte budget (chatapp.MessageFilter.MaxBytes) of
// the page GET /chat asks the store for. A message's JSON is never shorter
// than its StoredSize, so the messages that fit MaxHistoryBodyBytes always
// fit it too: the store loads every message encodeHistory could send, which
// stays the final word, and about 1 MiB at most (one more message, and on
// DynamoDB what its last Query returned), where a limit=1000 page of 16 KiB
// messages loaded 16 MB. For messages whose JSON grows most (16 KiB of
// control characters, 96 KiB of \u0001 each) the store loads up to six times
// as many as the body takes: still about 1 MiB.
const historyLoadBytes = MaxHistoryBodyBytes - historyEnvelope

// encodeHistory returns the body of GET /chat for page, at most budget bytes
// unless its one message is larger (a page always holds a message, when there
// is one, so that a walk always moves on). after tells an ?after= page, read
// forward: it keeps its oldest messages and sets has_more when it ends early.
// A latest or ?cursor= page, read backward, keeps its newest and sets
// next_cursor to the oldest kept.
//
// Each message is encoded once, in the order it is kept, and encoding stops
// at the first that does not fit: a page of 1000 of the largest messages
// costs the budget, not the page.
func encodeHistory(page chatapp.MessagePage, after bool, budget int) (string, error) {
	ms := page.Messages
	e := getEncoder()
	defer e.put()
	// ends[k] is where the k-th message kept ends in e.buf.
	ends := make([]int, 0, len(ms))
	used := historyEnvelope
	for i := range ms {
		m := ms[i]
		if !after {
			m = ms[len(ms)-1-i]
		}
		start := e.buf.Len()
		b, err := e.encode(m)
		if err != nil {
			return "", err
		}
		if len(ends) > 0 && used+len(b)+1 > budget {
			e.buf.Truncate(start)
			break
		}
		used += len(b) + 1
		ends = append(ends, e.buf.Len())
	}
	n := len(ends)
	cut := n < len(ms)

	var sb strings.Builder
	sb.Grow(used)
	sb.WriteString(`{"messages":[`)
	buf := e.buf.Bytes()
	for j := range n {
		k := j
		if !after {
			k = n - 1 - j // encoded newest first
		}
		start := 0
		if k > 0 {
			start = ends[k-1]
		}
		if j > 0 {
			sb.WriteByte(',')
		}
		sb.Write(buf[start:ends[k]])
	}
	sb.WriteByte(']')
	var cursor string
	switch {
	case after && (cut || page.More):
		sb.WriteString(`,"has_more":true`)
	case !after && cut:
		cursor = ms[len(ms)-n].ID
	case !after && page.More:
		cursor = ms[0].ID
	}
	if cursor != "" {
		b, err := e.encode(cursor)
		if err != nil {
			return "", err
		}
		sb.WriteString(`,"next_cursor":`)
		sb.Write(b)
	}
	sb.WriteByte('}')
	return sb.String(), nil
}
