package chatapp

// The keepalive route. API Gateway closes a WebSocket on which no message
// has passed for 10 minutes, and AWS documents neither that it answers
// WebSocket pings nor that they count as activity: a client keeps its
// connection, and learns that it still works, with a message instead.
// On AWS the route is answered by API Gateway itself (a MOCK integration
// with a route response: no function runs), locally by the gateway.
const (
	// PingAction is the action of the keepalive frame a client sends,
	// {"action":"ping"}.
	PingAction = "ping"
	// PongFrame is the frame the server answers it with, to the sender only.
	PongFrame = `{"type":"pong"}`
)
