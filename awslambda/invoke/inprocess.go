package invoke

import (
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
)

// InProcess routes the gateway's REST and WebSocket routes to the functions
// of h run in this process, as template.yaml routes them on AWS, each under
// the Lambda timeout template.yaml gives it (awslambda.Timeout).
func InProcess(h *handler.Handler) (map[string]gateway.RESTFunc, map[string]gateway.WebSocketFunc) {
	fns := awslambda.Handlers(h, true)
	rest := map[string]gateway.RESTFunc{}
	for route, name := range awslambda.RESTRoutes {
		rest[route] = gateway.WithLambdaTimeout(fns.REST[name], awslambda.Timeout(name))
	}
	websocket := map[string]gateway.WebSocketFunc{}
	for route, name := range awslambda.WebSocketRoutes {
		websocket[route] = gateway.WithLambdaTimeout(fns.WebSocket[name], awslambda.Timeout(name))
	}
	return rest, websocket
}

// InProcessAuthorizer is h's REQUEST authorizer run in this process, under
// its Lambda timeout.
func InProcessAuthorizer(h *handler.Handler) gateway.AuthorizerFunc {
	return gateway.WithLambdaTimeout(h.Authorize, awslambda.Timeout(awslambda.Authorize))
}
