package handler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
)

// headers of every REST response. The original also claimed
// isBase64Encoded for plain JSON; these responses do not.
func headers() map[string]string {
	return map[string]string{
		"Content-Type":                "application/json; charset=utf-8",
		"Access-Control-Allow-Origin": "*",
	}
}

func jsonResponse(status int, v any) (events.APIGatewayProxyResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers(), Body: string(b)}, nil
}

// errorResponse turns err into a JSON error response. The function itself
// succeeds: API Gateway would answer a failed invocation with a bare 502.
// Internal errors are logged here and reach the client as "internal error".
func (h *Handler) errorResponse(ctx context.Context, route string, err error) (events.APIGatewayProxyResponse, error) {
	status := chatapp.ErrorStatus(err)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.logger().Log(ctx, level, "request failed", "route", route, "status", status, "err", err)
	hdr := headers()
	var e *chatapp.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		hdr["Retry-After"] = strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds())))
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: hdr, Body: string(chatapp.EncodeError(err))}, nil
}
