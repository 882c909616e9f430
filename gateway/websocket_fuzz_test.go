package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
)

// fuzzWait bounds each wait of the WebSocket targets: a dial, a frame.
const fuzzWait = 10 * time.Second

// newFuzzServer serves a fuzz env's gateway on a loopback port and returns
// its ws:// URL.
func newFuzzServer(f *testing.F) (*fuzzEnv, string) {
	e := newFuzzEnv(f)
	srv := httptest.NewServer(e.g)
	f.Cleanup(srv.Close) // before the gateway closes: cleanups run last first
	return e, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

// FuzzWebSocketFrame sends any frame, text or binary, from a real client
// through the real gateway. A text frame gets one error frame that is not a
// server fault, or one push of the message it sent, or (only a send with
// an idempotency key, replayed) nothing; then the connection is still open.
// A frame over 32 KB closes it cleanly with 1009, a binary frame with 1003.
func FuzzWebSocketFrame(f *testing.F) {
	for _, seed := range []string{
		`{"action":"sendmessage","text":"hi"}`,
		`{"action":"sendmessage","text":"hi","name":"Ada","idempotency_key":"k1"}`,
		`{"action":"sendmessage","text":"hi","idempotency_key":"bad key"}`,
		`{"action":"sendmessage","text":"","name":"\u0007"}`,
		`{"action":"sendmessage","text":"\ud83d\ude00 \u202e \ufeff \u0000"}`,
		`{"action":"sendmessage","text":"\udc00"}`,
		`{"action":"sendmessage","text":1e400}`,
		`{"action":"sendmessage","text":"x","action":"nosuch"}`,
		`{"Action":"sendmessage","text":"hi"}`,
		`{"action":"$disconnect"}`,
		`{"action":"nosuch"}`,
		`{"action":["sendmessage"]}`,
		`{"a":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`,
		"not json", "", "\x00", "\xff\xfe\xfd",
	} {
		f.Add([]byte(seed), false, false)
	}
	f.Add([]byte(`{"action":"sendmessage","text":"hi"}`), true, false)
	f.Add([]byte(`{"action":"sendmessage","text":"`), false, true)
	e, wsURL := newFuzzServer(f)
	var sentinels atomic.Int64
	f.Fuzz(func(t *testing.T, frame []byte, binary, oversize bool) {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
		defer cancel()
		c, _, err := websocket.Dial(ctx, wsURL+"?room_id=fuzz&user_id=u1&name=Fuzz", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		if oversize && len(frame) <= gateway.MaxFrameBytes {
			frame = append(frame, make([]byte, gateway.MaxFrameBytes+1-len(frame))...)
		}
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		}
		// The gateway routes a connection's frames in order, so the replies
		// to the frame come before the sentinel's push.
		sentinel := fmt.Sprintf("sentinel %d", sentinels.Add(1))
		werr := c.Write(ctx, typ, frame)
		if len(frame) > gateway.MaxFrameBytes {
			_, data, err := c.Read(ctx)
			if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
				t.Fatalf("%d-byte frame (write: %v): read %q, %v; want close 1009", len(frame), werr, data, err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("write: %v", werr)
		}
		if binary {
			// API Gateway closes on any binary frame.
			_, data, err := c.Read(ctx)
			if got := websocket.CloseStatus(err); got != websocket.StatusUnsupportedData {
				t.Fatalf("binary frame %q: read %q, %v; want close 1003", frame, data, err)
			}
			return
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"`+sentinel+`"}`)); err != nil {
			t.Fatalf("write sentinel: %v", err)
		}
		var replies [][]byte
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("frame %q: connection ended: %v (after %q)", frame, err, replies)
			}
			if m := decodePush(t, data); m != nil && m.Text == sentinel {
				break
			}
			replies = append(replies, data)
		}
		checkReplies(t, frame, replies)
		c.Close(websocket.StatusNormalClosure, "")
		e.checkLogs(t)
	})
}

// checkReplies checks what one frame got back: one error frame that is not
// a server fault, or one push of the text the frame sent, or nothing for a
// send with an idempotency key (a replay is not pushed again).
func checkReplies(t *testing.T, frame []byte, replies [][]byte) {
	t.Helper()
	var sent struct {
		Text           string `json:"text"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	json.Unmarshal(frame, &sent)
	switch {
	case len(replies) == 0 && sent.IdempotencyKey != "":
	case len(replies) != 1:
		t.Fatalf("frame %q got %d replies %q, want one", frame, len(replies), replies)
	case decodePush(t, replies[0]) != nil:
		m := decodePush(t, replies[0])
		if m.Text != sent.Text {
			t.Fatalf("frame %q pushed %+v", frame, m)
		}
		if m.RoomID != "fuzz" || m.UserID != "u1" {
			t.Fatalf("frame %q pushed %+v, not the connection's room and user", frame, m)
		}
	default:
		checkErrorBody(t, fmt.Sprintf("frame %q", frame), replies[0])
	}
}

// decodePush returns the message a frame pushes, or nil for another frame.
func decodePush(t *testing.T, data []byte) *chatapp.Message {
	t.Helper()
	var m chatapp.Message
	if json.Unmarshal(data, &m) != nil || m.ID == "" {
		return nil
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("pushed an invalid message %q: %v", data, err)
	}
	return &m
}

// FuzzWebSocketConnect opens a connection with any query string. The
// handshake succeeds only for a valid room and user, and the connection
// then sends as them; a refusal is a 4xx with the JSON error.
func FuzzWebSocketConnect(f *testing.F) {
	for _, seed := range []string{
		"room_id=lobby&user_id=42&",
		"room_id=lobby&user_id=42&name=Ada+Lovelace&events=presence",
		"room_id=lobby&room_id=other&user_id=42&user_id=",
		"room_id=&user_id=",
		"room_id=%zz&user_id=42",
		"room_id=caf%C3%A9&user_id=%C3%BC&name=%E2%80%AE%F0%9F%98%80",
		"room_id=lobby&user_id=42&name=%00%07",
		"room_id=lobby&user_id=42&name=%ff%fe",
		"room_id=lobby&user_id=42&name=%ED%A0%80",
		"room_id=" + strings.Repeat("r", 129) + "&user_id=42",
		"user_id=99999999999999999999999999999999&room_id=1e400",
		"&&&", "", "%",
	} {
		f.Add(seed)
	}
	e, wsURL := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		rawQuery = escapeQuery(rawQuery)
		ctx, cancel := context.WithTimeout(context.Background(), fuzzWait)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, wsURL+"?"+rawQuery, nil)
		q, _ := url.ParseQuery(rawQuery)
		last := func(key string) string { // the value API Gateway's event keeps
			if vs := q[key]; len(vs) > 0 {
				return vs[len(vs)-1]
			}
			return ""
		}
		room, user, name := last("room_id"), last("user_id"), last("name")
		valid := (&chatapp.Connection{ID: "x=", RoomID: room, UserID: user, Name: name}).Validate() == nil
		if err != nil {
			if resp == nil {
				t.Fatalf("?%s: dial: %v", rawQuery, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 || valid {
				t.Fatalf("?%s: refused with %d %s (valid %v)", rawQuery, resp.StatusCode, body, valid)
			}
			checkErrorBody(t, "?"+rawQuery, body)
			e.checkLogs(t)
			return
		}
		defer c.CloseNow()
		if !valid {
			t.Fatalf("?%s: accepted room %q, user %q, name %q", rawQuery, room, user, name)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"hello"}`)); err != nil {
			t.Fatalf("write: %v", err)
		}
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("?%s: connection ended: %v", rawQuery, err)
			}
			m := decodePush(t, data)
			if m == nil {
				continue // a presence frame, with events=presence
			}
			if m.RoomID != room || m.UserID != user || m.Name != name || m.Text != "hello" {
				t.Fatalf("?%s: pushed %+v, want room %q, user %q, name %q", rawQuery, m, room, user, name)
			}
			break
		}
		c.Close(websocket.StatusNormalClosure, "")
		e.checkLogs(t)
	})
}

// escapeQuery percent-encodes the bytes a request line cannot carry, as a
// client would; everything else, malformed escapes included, goes as is.
func escapeQuery(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
