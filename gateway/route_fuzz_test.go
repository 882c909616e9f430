package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/protocol"
)

// FuzzSelectRoute feeds any frame to route selection (Gateway.route, as
// Message calls it) and to the event a function receives. A text frame
// that is a JSON object whose "action" key (exactly that key) is a string
// naming a configured route, not a $ one, goes there, with the answer of a
// mock route (the keepalive's) for that one alone; everything else goes to
// $default. The function, decoding the
// event as the Lambda runtime does, gets the frame's bytes back exactly.
func FuzzSelectRoute(f *testing.F) {
	for _, seed := range []string{
		`{"action":"sendmessage","text":"hi"}`,
		`{"action":"typing"}`,
		`{"action":"$connect"}`,
		`{"Action":"sendmessage"}`,
		`{"action":"sendmessage","action":"nosuch"}`,
		`{"action":"send\u006dessage"}`,
		`{"action":"sendmessage","n":1e400}`,
		`{"action":"\ud800"}`,
		`[{"action":"sendmessage"}]`,
		`null`, ``, "\x00", "\xff{\"action\":\"sendmessage\"}",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte(`{"action":"sendmessage"}`), true)
	f.Add([]byte(`{"action":"ping"}`), false)
	routes := map[string]bool{"$connect": true, "$disconnect": true, "$default": true, "sendmessage": true, "typing": true, protocol.ActionPing: true}
	g := routingGateway("$connect", "$disconnect", "$default", "sendmessage", "typing")
	s := g.hub.Open("FuzzConnection0=", hub.Peer{SourceIP: "127.0.0.1", UserAgent: "fuzz", DomainName: "localhost"})
	f.Fuzz(func(t *testing.T, frame []byte, binary bool) {
		got, mock := g.route(frame, !binary && utf8.Valid(frame))
		if want := expectedRoute(frame, binary, routes); got != want {
			t.Fatalf("route(%q, binary=%v) = %q, want %q", frame, binary, got, want)
		}
		if (got == protocol.ActionPing) != (string(mock) == protocol.PongFrame) || (got != protocol.ActionPing && mock != nil) {
			t.Fatalf("route(%q, binary=%v) = %q with the mock answer %q", frame, binary, got, mock)
		}

		event := g.wsEvent(s, got, "MESSAGE")
		event.Body, event.IsBase64Encoded = eventBody(frame, utf8.Valid(frame))
		data, err := json.Marshal(event)
		if err != nil {
			t.Fatalf("marshal event: %v", err)
		}
		var in events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(data, &in); err != nil {
			t.Fatalf("unmarshal event: %v", err)
		}
		body := []byte(in.Body)
		if in.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(in.Body); err != nil {
				t.Fatalf("event body is not base64: %v", err)
			}
		}
		if !bytes.Equal(body, frame) || in.IsBase64Encoded == utf8.Valid(frame) {
			t.Fatalf("frame %q arrived as %q (base64 %v)", frame, in.Body, in.IsBase64Encoded)
		}
		if in.RequestContext.RouteKey != got {
			t.Fatalf("event route %q, want %q", in.RequestContext.RouteKey, got)
		}
	})
}

// expectedRoute is route selection written another way: decode the whole
// object and look the key up exactly, as a JSONPath does.
func expectedRoute(frame []byte, binary bool, routes map[string]bool) string {
	if binary || !utf8.Valid(frame) || !json.Valid(frame) {
		return "$default"
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(frame))
	dec.UseNumber() // a huge number is still JSON
	if dec.Decode(&obj) != nil {
		return "$default" // not an object
	}
	action, _ := obj["action"].(string)
	if action == "" || strings.HasPrefix(action, "$") || !routes[action] {
		return "$default"
	}
	return action
}
