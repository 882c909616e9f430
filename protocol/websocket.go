// The WebSocket API's routes and frames.

package protocol

// Route keys of the WebSocket API. Routes are selected by
// $request.body.action: a frame's "action" names its route, and any other
// frame goes to $default.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
	// ActionSendMessage is the action of a send over the socket.
	ActionSendMessage = "sendmessage"
	// ActionPing is the keepalive's action, {"action":"ping"}. API Gateway
	// closes a WebSocket on which no message has passed for 10 minutes and
	// documents neither that it answers WebSocket pings nor that they
	// count: a client keeps its connection, and learns that it still
	// works, with a message. On AWS the route is answered by API Gateway
	// itself (a MOCK integration with a route response: no function
	// runs), locally by the gateway.
	ActionPing = "ping"
	// PongFrame is the frame the keepalive is answered with, to the
	// sender only.
	PongFrame = `{"type":"pong"}`
)

// SendMessageFrame is what a client sends on the socket to chat:
// {"action":"sendmessage","text":"...","name":"...","idempotency_key":"..."}.
// The room and user are those of the connection.
type SendMessageFrame struct {
	Action         string `json:"action"`
	Text           string `json:"text"`
	Name           string `json:"name,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}
