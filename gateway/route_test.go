package gateway

import (
	"context"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/protocol"
)

// routingGateway is a gateway with a function on each of routes and the
// keepalive's mock route, for the route selection tests.
func routingGateway(routes ...string) *Gateway {
	fns := make(map[string]WebSocketFunc, len(routes))
	for _, r := range routes {
		fns[r] = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}
	}
	return New(Config{WebSocket: fns, MockRoutes: keepaliveRoutes})
}

func TestSelectRoute(t *testing.T) {
	g := routingGateway("$connect", "$disconnect", "$default", "sendmessage")
	tests := []struct {
		name   string
		body   string
		binary bool
		want   string
		mock   string // the answer of a mock route
	}{
		{"sendmessage", `{"action":"sendmessage"}`, false, "sendmessage", ""},
		{"sendmessage with text", `{"action":"sendmessage","text":"hi","name":"A"}`, false, "sendmessage", ""},
		{"action after other fields", `{"text":"hi","action":"sendmessage"}`, false, "sendmessage", ""},
		{"whitespace around", " \n{ \"action\" : \"sendmessage\" }\n", false, "sendmessage", ""},
		{"mock route", `{"action":"ping"}`, false, "ping", protocol.PongFrame},
		{"mock route with other fields", `{"seq":7,"action":"ping"}`, false, "ping", protocol.PongFrame},
		{"mock route differs in case", `{"action":"Ping"}`, false, "$default", ""},
		{"mock route in a binary frame", `{"action":"ping"}`, true, "$default", ""},
		{"unknown action", `{"action":"nosuchroute"}`, false, "$default", ""},
		{"action differs in case", `{"action":"SendMessage"}`, false, "$default", ""},
		{"number action", `{"action":5}`, false, "$default", ""},
		{"bool action", `{"action":true}`, false, "$default", ""},
		{"object action", `{"action":{"name":"sendmessage"}}`, false, "$default", ""},
		{"array action", `{"action":["sendmessage"]}`, false, "$default", ""},
		{"null action", `{"action":null}`, false, "$default", ""},
		{"empty action", `{"action":""}`, false, "$default", ""},
		{"$connect as action", `{"action":"$connect"}`, false, "$default", ""},
		{"$disconnect as action", `{"action":"$disconnect"}`, false, "$default", ""},
		{"$default as action", `{"action":"$default"}`, false, "$default", ""},
		{"missing action", `{"text":"hi"}`, false, "$default", ""},
		{"empty object", `{}`, false, "$default", ""},
		{"empty frame", ``, false, "$default", ""},
		{"not JSON", `sendmessage`, false, "$default", ""},
		{"truncated JSON", `{"action":"sendmessage"`, false, "$default", ""},
		{"JSON array", `[{"action":"sendmessage"}]`, false, "$default", ""},
		{"JSON string", `"sendmessage"`, false, "$default", ""},
		{"JSON null", `null`, false, "$default", ""},
		{"binary frame", `{"action":"sendmessage"}`, true, "$default", ""},
		{"binary garbage", "\x00\xff\xfe", true, "$default", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, mock := g.route([]byte(tt.body), !tt.binary && utf8.Valid([]byte(tt.body)))
			if got != tt.want || string(mock) != tt.mock || (mock == nil) != (tt.mock == "") {
				t.Errorf("route(%q, binary=%v) = %q, %q; want %q, %q", tt.body, tt.binary, got, mock, tt.want, tt.mock)
			}
		})
	}
}

func TestSelectRouteOnlyConfiguredRoutes(t *testing.T) {
	// An action is a route only when the API configures it.
	g := routingGateway("$default")
	if got, _ := g.route([]byte(`{"action":"sendmessage"}`), true); got != "$default" {
		t.Errorf("unconfigured sendmessage routed to %q", got)
	}
	g = routingGateway("$default", "typing")
	if got, _ := g.route([]byte(`{"action":"typing"}`), true); got != "typing" {
		t.Errorf("configured typing routed to %q", got)
	}
	// Without mock routes the keepalive is an action like any other.
	g = New(Config{})
	if got, mock := g.route([]byte(`{"action":"ping"}`), true); got != "$default" || mock != nil {
		t.Errorf("ping without its mock route: %q, %q", got, mock)
	}
}
