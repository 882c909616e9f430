package invoke

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

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
		fn := fns[name].(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error))
		rest[route] = gateway.WithLambdaTimeout(fn, awslambda.Timeout(name))
	}
	websocket := map[string]gateway.WebSocketFunc{}
	for route, name := range awslambda.WebSocketRoutes {
		fn := fns[name].(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error))
		websocket[route] = gateway.WithLambdaTimeout(fn, awslambda.Timeout(name))
	}
	return rest, websocket
}

// InProcessAuthorizer is h's REQUEST authorizer run in this process, under
// its Lambda timeout.
func InProcessAuthorizer(h *handler.Handler) gateway.AuthorizerFunc {
	return gateway.WithLambdaTimeout(h.Authorize, awslambda.Timeout(awslambda.Authorize))
}
