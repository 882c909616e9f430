package gateway

import (
	"encoding/json"
	"unicode/utf8"
)

// route selects the route of a data message by the route selection
// expression $request.body.action, as the original API was configured: a
// JSON frame whose "action" names a route goes there; anything else
// (binary, not UTF-8, not JSON, an action no route has) goes to $default.
// A mock route (Config.MockRoutes) is a route too: for one, mock is its
// answer, which API Gateway's MOCK integration sends back without a
// function; for any other route mock is nil. It is the one routing
// function: readLoop and the route tests call it. It allocates nothing
// beyond frameAction's decoding: mock is the route's shared frame.
func (g *Gateway) route(body []byte, binary bool) (key string, mock []byte) {
	if a := frameAction(body, binary); a != "" {
		if frame, ok := g.mocks[a]; ok {
			return a, frame
		}
		if _, ok := g.cfg.WebSocket[a]; ok {
			return a, nil
		}
	}
	return "$default", nil
}

// frameAction returns the frame's action, or "" when it has none that can
// name a route: binary, not UTF-8, not JSON, no string "action", or one
// that names a reserved route ($connect, $default...). The key is matched
// exactly, as the JSONPath is: a map, because a struct field would also
// match "Action" or "ACTION".
func frameAction(body []byte, binary bool) string {
	if binary || !utf8.Valid(body) {
		return ""
	}
	var frame map[string]json.RawMessage
	if json.Unmarshal(body, &frame) != nil || len(frame["action"]) == 0 {
		return ""
	}
	var action string
	if json.Unmarshal(frame["action"], &action) != nil || action == "" || action[0] == '$' {
		return ""
	}
	return action
}
