package gateway

import (
	"context"
	"encoding/binary"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"
)

// closeBody is the body of a close frame with a code and a reason.
func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// TestClientCloseAnswered: the server answers a client's close frame as
// RFC 6455 §5.5.1 and §7.4 ask: an empty close with an empty close, a
// valid code with that code, a code no endpoint may send (1004–1006, 1015,
// under 1000, 1016–2999, 5000 and over) or a 1-byte body with 1002, a
// reason that is not UTF-8 with 1007. $disconnect gets the code the
// connection ended with: the client's, 1005 when it sent none (with API
// Gateway's reason for it), or the server's answer to a bad close frame.
func TestClientCloseAnswered(t *testing.T) {
	type closed struct {
		code   int64
		reason string
	}
	disconnected := make(chan closed, 1)
	var ts *testServer
	ts = startServer(t, Config{WebSocket: map[string]WebSocketFunc{
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, ts.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		},
		"$disconnect": func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			disconnected <- closed{ev.RequestContext.DisconnectStatusCode, *ev.RequestContext.DisconnectReason}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}})
	for _, c := range []struct {
		name string
		body []byte
		// The server's answer: its close code (0: an empty body) and, for
		// a code it echoes, the reason echoed.
		answer       ws.StatusCode
		answerReason string
		// $disconnect's code; and its reason when wantReason is set.
		disconnect int64
		wantReason string
	}{
		{"empty", nil, 0, "", 1005, "Client-side close frame status not set"},
		{"1000 with a reason", closeBody(1000, "bye"), 1000, "bye", 1000, "bye"},
		{"1001", closeBody(1001, ""), 1001, "", 1001, ""},
		{"1003", closeBody(1003, ""), 1003, "", 1003, ""},
		{"1007", closeBody(1007, ""), 1007, "", 1007, ""},
		{"1011", closeBody(1011, ""), 1011, "", 1011, ""},
		{"1014", closeBody(1014, ""), 1014, "", 1014, ""},
		{"3000", closeBody(3000, ""), 3000, "", 3000, ""},
		{"4999 with a reason", closeBody(4999, "app"), 4999, "app", 4999, "app"},
		{"1-byte body", []byte{0x03}, 1002, "", 1002, ""},
		{"0", closeBody(0, ""), 1002, "", 1002, ""},
		{"999", closeBody(999, ""), 1002, "", 1002, ""},
		{"1004", closeBody(1004, ""), 1002, "", 1002, ""},
		{"1005", closeBody(1005, ""), 1002, "", 1002, ""},
		{"1006", closeBody(1006, ""), 1002, "", 1002, ""},
		{"1015", closeBody(1015, ""), 1002, "", 1002, ""},
		{"1016", closeBody(1016, ""), 1002, "", 1002, ""},
		{"2999", closeBody(2999, ""), 1002, "", 1002, ""},
		{"5000", closeBody(5000, ""), 1002, "", 1002, ""},
		{"65535", closeBody(65535, ""), 1002, "", 1002, ""},
		{"reason not UTF-8", closeBody(1000, "\xff\xfe"), 1007, "", 1007, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := dialRaw(t, ts, 0)
			client.echo("open")
			client.write(rawFrame(true, ws.OpClose, uint64(len(c.body)), false, c.body))
			var got []byte
			for {
				f, err := client.next()
				if err != nil {
					t.Fatalf("no close frame: %v", err)
				}
				if f.Header.OpCode == ws.OpClose {
					got = f.Payload
					break
				}
			}
			client.conn.Close()
			switch code, reason := ws.ParseCloseFrameData(got); {
			case c.answer == 0 && len(got) != 0:
				t.Errorf("answered with the close body %q, want an empty one", got)
			case c.answer != 0 && (code != c.answer || c.answerReason != "" && reason != c.answerReason):
				t.Errorf("answered with the close body %q, want %d %q", got, c.answer, c.answerReason)
			}
			select {
			case d := <-disconnected:
				if d.code != c.disconnect || c.wantReason != "" && d.reason != c.wantReason {
					t.Errorf("$disconnect got %d %q, want %d %q", d.code, d.reason, c.disconnect, c.wantReason)
				}
			case <-time.After(rawWait):
				t.Fatal("no $disconnect")
			}
		})
	}
}

// TestBinaryFrameCloses: API Gateway takes no binary frame; the first one,
// whole or the first fragment of a message, closes the connection with
// 1003 and is routed nowhere. $disconnect gets 1003. What the client sent
// before it was routed as usual.
func TestBinaryFrameCloses(t *testing.T) {
	routed := make(chan string, 16)
	disconnected := make(chan int64, 1)
	var ts *testServer
	ts = startServer(t, Config{WebSocket: map[string]WebSocketFunc{
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			routed <- ev.Body
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, ts.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		},
		"$disconnect": func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			disconnected <- ev.RequestContext.DisconnectStatusCode
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}})
	payload := []byte(`{"action":"sendmessage","text":"binary"}`)
	for _, c := range []struct {
		name   string
		frames [][]byte
	}{
		{"whole", [][]byte{rawFrame(true, ws.OpBinary, uint64(len(payload)), false, payload)}},
		{"empty", [][]byte{rawFrame(true, ws.OpBinary, 0, false, nil)}},
		{"first fragment", [][]byte{rawFrame(false, ws.OpBinary, uint64(len(payload)), false, payload)}},
		{"fragmented, then text", [][]byte{
			rawFrame(false, ws.OpBinary, 3, false, payload[:3]),
			rawFrame(true, ws.OpContinuation, uint64(len(payload)-3), false, payload[3:]),
			rawFrame(true, ws.OpText, 5, false, []byte("after")),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := dialRaw(t, ts, 0)
			client.echo("open")
			if got := <-routed; got != "open" {
				t.Fatalf("routed %q, want open", got)
			}
			client.write(c.frames...)
			client.expectClose(ws.StatusUnsupportedData)
			select {
			case code := <-disconnected:
				if code != int64(ws.StatusUnsupportedData) {
					t.Errorf("$disconnect got %d, want 1003", code)
				}
			case <-time.After(rawWait):
				t.Fatal("no $disconnect")
			}
			select {
			case body := <-routed:
				t.Errorf("routed %q after a binary frame", body)
			default:
			}
		})
	}
}
