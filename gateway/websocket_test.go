package gateway

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"
)

// TestDeclaredLengthsCannotCrash: a frame may declare any length up to
// 2^63-1, and one that would overflow the size check when added to the
// fragments before it (the crash of issue 9: a 1-byte first fragment, then
// a continuation of 2^63-1) is refused with 1009, a length with its top bit
// set or a control frame's long length with 1002. The server keeps serving
// a bystander throughout.
func TestDeclaredLengthsCannotCrash(t *testing.T) {
	ts := startServer(t, Config{})
	bystander := dialRaw(t, ts, 0)
	bystander.echo("before")
	first := func(n int) []byte { return rawFrame(false, ws.OpText, uint64(n), false, make([]byte, n)) }
	cont := func(n int) []byte { return rawFrame(false, ws.OpContinuation, uint64(n), false, make([]byte, n)) }
	for _, c := range []struct {
		name   string
		frames [][]byte
		want   ws.StatusCode
	}{
		{"continuation of 2^63-1 after 1 byte", [][]byte{first(1), rawFrame(true, ws.OpContinuation, math.MaxInt64, true, nil)}, ws.StatusMessageTooBig},
		{"continuation of 2^63-100 after 100 bytes", [][]byte{first(100), rawFrame(true, ws.OpContinuation, math.MaxInt64-99, true, nil)}, ws.StatusMessageTooBig},
		{"continuation of 2^63-2 after 125 bytes", [][]byte{first(125), rawFrame(true, ws.OpContinuation, math.MaxInt64-1, true, nil)}, ws.StatusMessageTooBig},
		{"continuation one byte over the frame limit", [][]byte{first(1000), rawFrame(true, ws.OpContinuation, MaxFrameBytes+1, true, nil)}, ws.StatusMessageTooBig},
		{"continuation one byte over the message limit", [][]byte{first(MaxFrameBytes), cont(MaxFrameBytes), cont(MaxFrameBytes), cont(MaxFrameBytes), rawFrame(true, ws.OpContinuation, 1, true, nil)}, ws.StatusMessageTooBig},
		{"text of 2^63-1", [][]byte{rawFrame(true, ws.OpText, math.MaxInt64, true, nil)}, ws.StatusMessageTooBig},
		{"length with the top bit set", [][]byte{rawFrame(true, ws.OpText, 1<<63, true, nil)}, ws.StatusProtocolError},
		{"continuation of 2^64-1 after 1 byte", [][]byte{first(1), rawFrame(true, ws.OpContinuation, math.MaxUint64, true, nil)}, ws.StatusProtocolError},
		{"ping of 2^63-1", [][]byte{rawFrame(true, ws.OpPing, math.MaxInt64, true, nil)}, ws.StatusProtocolError},
		{"ping of 126", [][]byte{rawFrame(true, ws.OpPing, 126, false, nil)}, ws.StatusProtocolError},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := dialRaw(t, ts, 0)
			client.write(c.frames...)
			client.expectClose(c.want)
			bystander.echo("after " + c.name)
		})
	}
	if n := ts.panics("socket"); n != 0 {
		t.Errorf("%d panics recovered: the lengths must be refused, not crash", n)
	}
}

// TestFrameAndMessageLimits: API Gateway's quotas, a frame of at most 32
// KB and a message of at most 128 KB. A text or continuation frame of
// 32,768 bytes is routed; one byte more closes the connection with 1009,
// whatever the message's size. A message of 128 KB in frames of 32 KB is
// routed whole; one byte more, in a fifth frame, closes it with 1009.
func TestFrameAndMessageLimits(t *testing.T) {
	ts := startServer(t, Config{})
	bystander := dialRaw(t, ts, 0)
	text := func(n int) []byte { return bytes.Repeat([]byte("f"), n) }
	frame := func(fin bool, op ws.OpCode, n int) []byte { return rawFrame(fin, op, uint64(n), false, text(n)) }
	routed := func(c *rawClient, want int) {
		t.Helper()
		for {
			f, err := c.next()
			if err != nil {
				t.Fatalf("waiting for the echo of %d bytes: %v", want, err)
			}
			if f.Header.OpCode == ws.OpText {
				if !bytes.Equal(f.Payload, text(want)) {
					t.Fatalf("echo of %d bytes: got %d", want, len(f.Payload))
				}
				return
			}
		}
	}

	c := dialRaw(t, ts, 0)
	c.write(frame(true, ws.OpText, MaxFrameBytes))
	routed(c, MaxFrameBytes)
	c.write(frame(false, ws.OpText, 10), frame(true, ws.OpContinuation, MaxFrameBytes))
	routed(c, MaxFrameBytes+10)
	c.write(frame(false, ws.OpText, MaxFrameBytes), frame(false, ws.OpContinuation, MaxFrameBytes),
		frame(false, ws.OpContinuation, MaxFrameBytes), frame(true, ws.OpContinuation, MaxFrameBytes))
	routed(c, MaxPayloadBytes)

	for _, over := range []struct {
		name   string
		frames [][]byte
	}{
		{"a text frame of 32 KB and a byte", [][]byte{frame(true, ws.OpText, MaxFrameBytes+1)}},
		{"a first fragment of 32 KB and a byte", [][]byte{frame(false, ws.OpText, MaxFrameBytes+1), frame(true, ws.OpContinuation, 1)}},
		{"a continuation of 32 KB and a byte", [][]byte{frame(false, ws.OpText, 1), frame(true, ws.OpContinuation, MaxFrameBytes+1)}},
		{"a message of 128 KB and a byte", [][]byte{frame(false, ws.OpText, MaxFrameBytes), frame(false, ws.OpContinuation, MaxFrameBytes),
			frame(false, ws.OpContinuation, MaxFrameBytes), frame(false, ws.OpContinuation, MaxFrameBytes), frame(true, ws.OpContinuation, 1)}},
	} {
		t.Run(over.name, func(t *testing.T) {
			c := dialRaw(t, ts, 0)
			c.write(over.frames...)
			c.expectClose(ws.StatusMessageTooBig)
			bystander.echo("after " + over.name)
		})
	}
}

// TestPingFloodHoldsOnePong: a client that pings as fast as it can and
// never reads (a small receive window, no frame limit) makes the server
// hold at most one pong: a newer ping replaces an unsent answer. Its queue
// holds nothing else, and the socket still routes.
func TestPingFloodHoldsOnePong(t *testing.T) {
	const pings = 100_000
	var ts *testServer
	held := make(chan string, 1)
	ts = startServer(t, Config{WebSocket: map[string]WebSocketFunc{
		// A frame, routed after the pings, reports what the socket holds.
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			frames, bytes := ts.g.hub.Pending(ev.RequestContext.ConnectionID)
			held <- fmt.Sprintf("frames=%d bytes=%d", frames, bytes)
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}})
	c := dialRaw(t, ts, 4096)
	ping := rawFrame(true, ws.OpPing, 125, false, make([]byte, 125))
	batch := make([]byte, 0, 1000*len(ping))
	for range 1000 {
		batch = append(batch, ping...)
	}
	for range pings / 1000 {
		c.write(batch)
	}
	c.write(rawFrame(true, ws.OpText, 1, false, []byte("?")))
	select {
	case got := <-held:
		if got != "frames=0 bytes=125" && got != "frames=0 bytes=0" {
			t.Fatalf("after %d unread pongs the socket held %s, want no frame and at most one pong", pings, got)
		}
	case <-time.After(rawWait):
		t.Fatalf("the frame after %d pings was not routed", pings)
	}
}

// TestPingFloodIsClosed: pings spend the frame budget as data frames do,
// and a client that keeps pinging past it is closed with 1008.
func TestPingFloodIsClosed(t *testing.T) {
	ts := startServer(t, Config{FrameRate: 10, FrameBurst: 10})
	bystander := dialRaw(t, ts, 0)
	c := dialRaw(t, ts, 0)
	ping := rawFrame(true, ws.OpPing, 4, false, []byte("ping"))
	for range 1000 {
		c.write(ping)
	}
	c.write(rawFrame(true, ws.OpClose, 2, false, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	c.expectClose(ws.StatusPolicyViolation)
	bystander.echo("still here")
}

// TestFragmentFloodIsClosed: every frame spends the frame budget, a
// message's fragments too. A client that sends one non-final text frame
// and then empty continuation frames without end is closed with 1008, as
// a flood of whole frames is, within the frames that the budget and its
// refusals allow (about 110 here: it sends 500). A fragmented message
// within the budget is still routed whole.
func TestFragmentFloodIsClosed(t *testing.T) {
	ts := startServer(t, Config{FrameRate: 10, FrameBurst: 10})
	bystander := dialRaw(t, ts, 0)
	bystander.write(rawFrame(false, ws.OpText, 4, false, []byte("frag")), rawFrame(true, ws.OpContinuation, 4, false, []byte("ment")))
	if f, err := bystander.next(); err != nil || f.Header.OpCode != ws.OpText || string(f.Payload) != "fragment" {
		t.Fatalf("a fragmented message: %v %q, want it routed whole", err, f.Payload)
	}
	c := dialRaw(t, ts, 0)
	flood := rawFrame(false, ws.OpText, 1, false, []byte("a"))
	empty := rawFrame(false, ws.OpContinuation, 0, false, nil)
	for range 500 {
		flood = append(flood, empty...)
	}
	c.write(flood)
	c.expectClose(ws.StatusPolicyViolation)
	bystander.echo("still here")
}

// TestSlowMessageIsClosed: a message that has begun and does not end
// within MessageTimeout (a fragment without its end, a frame without its
// payload, a ping without its payload) is closed with 1008 rather than
// held until the idle timeout. A fragmented message that ends in time is
// routed, and leaves no deadline behind: the socket outlives the timeout.
func TestSlowMessageIsClosed(t *testing.T) {
	ts := startServer(t, Config{MessageTimeout: 300 * time.Millisecond})
	bystander := dialRaw(t, ts, 0)
	for name, partial := range map[string][]byte{
		"a fragment without its end":  rawFrame(false, ws.OpText, 1, false, []byte("a")),
		"a frame without its payload": rawFrame(true, ws.OpText, 100, false, make([]byte, 100))[:20],
		"a ping without its payload":  rawFrame(true, ws.OpPing, 4, false, []byte("ping"))[:8],
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, ts, 0)
			c.write(partial)
			c.expectClose(ws.StatusPolicyViolation)
		})
	}
	bystander.echo("still here")

	ts = startServer(t, Config{MessageTimeout: 2 * time.Second})
	c := dialRaw(t, ts, 0)
	c.write(rawFrame(false, ws.OpText, 3, false, []byte("hel")))
	time.Sleep(200 * time.Millisecond) // the server waits for the rest
	c.write(rawFrame(true, ws.OpContinuation, 2, false, []byte("lo")))
	if f, err := c.next(); err != nil || string(f.Payload) != "hello" {
		t.Fatalf("a fragmented message in time: %v %q", err, f.Payload)
	}
	time.Sleep(2500 * time.Millisecond) // past the deadline the message had
	c.echo("after the timeout")
}
