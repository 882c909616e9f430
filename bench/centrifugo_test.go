package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A frame of Centrifugo's holds several replies and pushes, a line each,
// and the server's ping, which split answers rather than passes on.
func TestCentrifugoSplit(t *testing.T) {
	frame := strings.Join([]string{
		`{"push":{"channel":"chat:r","pub":{"data":{"message":"cb 1 2 3 ....","id":"2-3"},"info":{"user":"","client":"c1"}}}}`,
		`{}`,
		`{"id":7,"publish":{}}`,
		`{"push":{"channel":"chat:r","pub":{"data":{"message":"cb 4 5 6","id":"5-6"}}}}`,
	}, "\n")
	var got []string
	reply := centrifugoWire{}.split([]byte(frame), func(msg []byte) { got = append(got, string(msg)) })
	if string(reply) != "{}" {
		t.Errorf("reply %q, want the pong {}", reply)
	}
	if len(got) != 3 || got[1] != `{"id":7,"publish":{}}` {
		t.Fatalf("messages %q, want the three that are not the ping", got)
	}
	for i, want := range map[int][2]string{0: {"2-3", "cb 1 2 3 ...."}, 2: {"5-6", "cb 4 5 6"}} {
		id, text, ok := parseFrame([]byte(got[i]))
		if !ok || string(id) != want[0] || string(text) != want[1] {
			t.Errorf("%s: %q %q %v, want %q", got[i], id, text, ok, want)
		}
	}
	if _, _, ok := parseFrame([]byte(got[1])); ok {
		t.Error("parsed a publish reply as a message")
	}
	if reply := (centrifugoWire{}).split([]byte(`{"id":9,"publish":{}}`), func([]byte) {}); reply != nil {
		t.Errorf("answered %q to a frame without a ping", reply)
	}
}

// What a sender publishes is what members parse back: the text, its
// latency stamp first, and the sender's own id.
func TestCentrifugoSendFrameRoundTrip(t *testing.T) {
	text := messageText(1764067200123456789, 4, 17, 64)
	frame := centrifugoWire{}.sendFrame("room-1", text, 4, 17)
	if !strings.HasPrefix(string(frame), `{"id":20,"publish":{"channel":"chat:room-1","data":{"message":"cb 1764067200123456789 4 17`) {
		t.Fatalf("frame %s", frame)
	}
	id, got, ok := parseFrame(frame)
	if !ok || string(id) != "4-17" || string(got) != text {
		t.Fatalf("%q %q %v", id, got, ok)
	}
}

// scriptedConn replays a server's frames and records what was written.
type scriptedConn struct {
	frames  []string
	written []string
}

func (c *scriptedConn) write(_ context.Context, frame []byte) error {
	c.written = append(c.written, string(frame))
	return nil
}

func (c *scriptedConn) read(context.Context) ([]byte, error) {
	if len(c.frames) == 0 {
		return nil, errors.New("no more frames")
	}
	f := c.frames[0]
	c.frames = c.frames[1:]
	return []byte(f), nil
}

// join waits for both replies, whether they share a frame or not,
// answers a ping meanwhile, and fails on an error reply.
func TestCentrifugoJoin(t *testing.T) {
	hello := `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"chat:r"}}`
	for name, tc := range map[string]struct{ frames, written []string }{
		"one frame":             {[]string{`{"id":1,"connect":{"client":"c","version":"6.9.1"}}` + "\n" + `{"id":2,"subscribe":{}}`}, []string{hello}},
		"two frames and a ping": {[]string{`{"id":1,"connect":{"client":"c"}}`, `{}`, `{"id":2,"subscribe":{}}`}, []string{hello, "{}"}},
	} {
		c := &scriptedConn{frames: tc.frames}
		if err := (centrifugoWire{}).join(context.Background(), c, "r"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Join(c.written, "|") != strings.Join(tc.written, "|") {
			t.Errorf("%s: wrote %q, want %q", name, c.written, tc.written)
		}
	}
	c := &scriptedConn{frames: []string{`{"id":1,"connect":{}}` + "\n" + `{"id":2,"error":{"code":103,"message":"permission denied"}}`}}
	if err := (centrifugoWire{}).join(context.Background(), c, "r"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("join with a refused subscribe: %v", err)
	}
}
