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
	if binary || !utf8.Valid(body) {
		return "$default"
	}
	var frame struct {
		Action json.RawMessage `json:"action"`
	}
	if json.Unmarshal(body, &frame) != nil || len(frame.Action) == 0 {
		return "$default"
	}
	var action string
	if json.Unmarshal(frame.Action, &action) != nil || action == "" || action[0] == '$' {
		return "$default"
	}
	if _, ok := routes[action]; !ok {
		return "$default"
	}
	return action
}
