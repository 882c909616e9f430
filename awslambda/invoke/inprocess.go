package invoke

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
)

// InProcess routes the gateway's REST and WebSocket routes to the functions
// of h run in this process, as template.yaml routes them on AWS.
func InProcess(h *handler.Handler) (map[string]gateway.RESTFunc, map[string]gateway.WebSocketFunc) {
	fns := awslambda.Handlers(h, true)
	rest := map[string]gateway.RESTFunc{}
	for route, name := range awslambda.RESTRoutes {
		rest[route] = fns[name].(func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error))
	}
	websocket := map[string]gateway.WebSocketFunc{}
	for route, name := range awslambda.WebSocketRoutes {
		websocket[route] = fns[name].(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error))
	}
	return rest, websocket
}
