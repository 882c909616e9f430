package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/chatapp-dev/chatapp/protocol"
)

// route selects the route of a data message by the route selection
// expression $request.body.action, as the original API was configured: a
// JSON frame whose "action" names a route goes there; anything else
// (binary, not UTF-8, not JSON, an action no route has) goes to $default.
// text tells a text frame whose bytes are UTF-8, which the caller checked
// once for this and for the event's body (eventBody). A mock route
// (Config.MockRoutes) is a route too: for one, mock is its answer, which
// API Gateway's MOCK integration sends back without a function; for any
// other route mock is nil. It is the one routing function: message and the
// route tests call it.
func (g *Gateway) route(body []byte, text bool) (key string, mock []byte) {
	if !text {
		return protocol.RouteDefault, nil
	}
	a := frameAction(body)
	if a == nil {
		return protocol.RouteDefault, nil
	}
	// A map lookup by string(a) does not copy a.
	if r, ok := g.routes[string(a)]; ok {
		return r.key, r.mock
	}
	return protocol.RouteDefault, nil
}

// selectedRoute is a route a frame's action selects: its key, and for a
// mock route the frame that answers it.
type selectedRoute struct {
	key  string
	mock []byte
}

// frameAction returns the action of a UTF-8 frame, or nil when it has none
// that can name a route: not JSON, not an object, no string "action", or
// one that names a reserved route ($connect, $default...). The key is
// matched exactly, after unescaping, as the JSONPath is, and the last of
// duplicate keys counts, as for a decoded object. The frame is validated
// and scanned, not decoded: the function decodes it, once.
func frameAction(body []byte) []byte {
	if !json.Valid(body) {
		return nil
	}
	v := objectMember(body, "action")
	if len(v) < 2 || v[0] != '"' {
		return nil // absent, or not a string
	}
	action := v[1 : len(v)-1]
	if bytes.IndexByte(action, '\\') >= 0 {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil
		}
		action = []byte(s)
	}
	if len(action) == 0 || action[0] == '$' {
		return nil
	}
	return action
}

// objectMember returns the raw value of the last top-level member of a
// JSON object named key, nil if body is not an object or has none. body
// must be valid JSON (json.Valid): the scan skips values without checking
// them.
func objectMember(body []byte, key string) (value []byte) {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return nil
	}
	i = skipSpace(body, i+1)
	for i < len(body) && body[i] == '"' {
		end := skipString(body, i)
		name := body[i:end]
		i = skipSpace(body, end) + 1 // past the ':'
		i = skipSpace(body, i)
		end = skipValue(body, i)
		if memberNamed(name, key) {
			value = body[i:end]
		}
		i = skipSpace(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return value
}

// memberNamed reports whether a member's quoted name is key once unescaped.
func memberNamed(quoted []byte, key string) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1:len(quoted)-1]) == key
	}
	var name string
	return json.Unmarshal(quoted, &name) == nil && name == key
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index past the string that starts at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte: a quote or a backslash must not end the string
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index past the value that starts at b[i]: a
// string, an object or array with all it holds, or a literal or number.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
