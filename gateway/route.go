package gateway

import (
	"encoding/json"
	"unicode/utf8"
)

// selectRoute evaluates the route selection expression $request.body.action,
// as the original API was configured: a JSON frame whose "action" names a
// route goes there; anything else (binary, not UTF-8, not JSON) goes to
// $default.
func selectRoute[F any](body []byte, binary bool, routes map[string]F) string {
	if a := frameAction(body, binary); a != "" {
		if _, ok := routes[a]; ok {
			return a
		}
	}
	return "$default"
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
