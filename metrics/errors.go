package metrics

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/protocol"
)

// Errors are counted where the gateway meets its functions: a wrapper of
// each integration reads the response's status and the error body's code.
// That sees every error a function answers, in process or under the Lambda
// emulator, without a hook in the gateway. The gateway's own refusals (an
// unknown resource or method, an oversize body, a frame over the rate
// limit) are not counted; an integration that fails is counted as
// "internal".

// REST wraps the function of a REST route ("PUT /chat").
func (m *Metrics) REST(route string, fn gateway.RESTFunc) gateway.RESTFunc {
	if m == nil {
		return fn
	}
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp, err := fn(ctx, req)
		m.countError(route, resp, err)
		return resp, err
	}
}

// WebSocket wraps the function of a WebSocket route: an error answer is a
// refused handshake for $connect and an error frame for the others.
func (m *Metrics) WebSocket(route string, fn gateway.WebSocketFunc) gateway.WebSocketFunc {
	if m == nil {
		return fn
	}
	return func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp, err := fn(ctx, req)
		m.countError(route, resp, err)
		return resp, err
	}
}

// Authorizer wraps the REQUEST authorizer: a refused token is counted as
// "unauthorized" on the route "$authorizer".
func (m *Metrics) Authorizer(fn gateway.AuthorizerFunc) gateway.AuthorizerFunc {
	if m == nil || fn == nil {
		return fn
	}
	return func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		resp, err := fn(ctx, req)
		switch {
		case err == nil:
		case err.Error() == "Unauthorized": // API Gateway's convention for a 401
			m.errors.WithLabelValues("$authorizer", chatapp.EUNAUTHORIZED).Inc()
		default:
			m.errors.WithLabelValues("$authorizer", chatapp.EINTERNAL).Inc()
		}
		return resp, err
	}
}

func (m *Metrics) countError(route string, resp events.APIGatewayProxyResponse, err error) {
	switch {
	case err != nil:
		m.errors.WithLabelValues(route, chatapp.EINTERNAL).Inc()
	case resp.StatusCode >= 400:
		m.errors.WithLabelValues(route, errorCode(resp.Body)).Inc()
	}
}

// errorCode reads the code of an error body, {"error":{"code":"..."}}.
// Anything else is "unknown", and so is a code that does not look like one:
// a label must not take whatever a response says.
func errorCode(body string) string {
	var e protocol.ErrorBody
	if json.Unmarshal([]byte(body), &e) != nil || !isCode(e.Error.Code) {
		return "unknown"
	}
	return e.Error.Code
}

func isCode(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}
