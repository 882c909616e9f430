package gateway

import (
	"encoding/json"
	"unicode/utf8"
)

// selectRoute evaluates the route selection expression $request.body.action,
// as the original API was configured: a JSON frame whose "action" names a
// route goes there; anything else (binary, not UTF-8, not JSON) goes to
// $default. The key is matched exactly, as the JSONPath is: a map, because
// a struct field would also match "Action" or "ACTION".
func selectRoute[F any](body []byte, binary bool, routes map[string]F) string {
	if binary || !utf8.Valid(body) {
		return "$default"
	}
	var frame map[string]json.RawMessage
	if json.Unmarshal(body, &frame) != nil || len(frame["action"]) == 0 {
		return "$default"
	}
	var action string
	if json.Unmarshal(frame["action"], &action) != nil || action == "" || action[0] == '$' {
		return "$default"
	}
	if _, ok := routes[action]; !ok {
		return "$default"
	}
	return action
}
