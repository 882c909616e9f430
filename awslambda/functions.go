// Package awslambda connects the handlers to AWS Lambda: it maps the
// Handler names of template.yaml to the functions of one bootstrap binary,
// and names the function of each route. The gateway side, Lambda Invoke
// calls, is its subpackage invoke.
package awslambda

import (
	"context"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/handler"
)

// The Handler names used in template.yaml: one bootstrap binary serves every
// function, and the runtime's _HANDLER variable picks one.
const (
	GetMessages = "get-messages"
	PutMessage  = "put-message"
	GetUsers    = "get-users"
	Connect     = "connect"
	Disconnect  = "disconnect"
	SendMessage = "send-message"
	Default     = "default"
	// Authorize is the REQUEST authorizer of both APIs.
	Authorize = "authorize"
)

// RESTRoutes and WebSocketRoutes say which function serves each route, as
// template.yaml wires them and the local gateway does.
var (
	RESTRoutes = map[string]string{
		"GET /chat":       GetMessages,
		"PUT /chat":       PutMessage,
		"GET /chat/users": GetUsers,
	}
	WebSocketRoutes = map[string]string{
		"$connect":    Connect,
		"$disconnect": Disconnect,
		"sendmessage": SendMessage,
		"$default":    Default,
	}
	// WebSocketMockRoutes are the routes API Gateway answers by itself,
	// without a function: each has a MOCK integration whose integration
	// response is this frame, and a route response that sends it back to
	// the client (a two-way route). template.yaml and the local gateway
	// both take them from here.
	WebSocketMockRoutes = map[string]string{
		chatapp.PingAction: chatapp.PongFrame,
	}
)

// Handlers returns every function by its Handler name. Unless
// fixedEndpoint is set (a custom domain, or the local gateway), a WebSocket
// function pushes through the management endpoint of the API its event came
// from.
func Handlers(h *handler.Handler, fixedEndpoint bool) map[string]any {
	ws := func(fn websocketFunc) websocketFunc {
		if fixedEndpoint {
			return fn
		}
		return withEventEndpoint(fn)
	}
	return map[string]any{
		GetMessages: h.GetMessages,
		PutMessage:  h.PutMessage,
		GetUsers:    h.GetUsers,
		Connect:     ws(h.Connect),
		Disconnect:  ws(h.Disconnect),
		SendMessage: ws(h.SendMessage),
		Default:     ws(h.Default),
		Authorize:   h.Authorize,
	}
}

// Names lists the Handler names, sorted.
func Names() []string {
	var names []string
	for name := range Handlers(&handler.Handler{}, true) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

type websocketFunc = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

func withEventEndpoint(fn websocketFunc) websocketFunc {
	return func(ctx context.Context, e events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		endpoint := apigw.EndpointFromEvent(e.RequestContext.DomainName, e.RequestContext.Stage)
		return fn(apigw.ContextWithEndpoint(ctx, endpoint), e)
	}
}
