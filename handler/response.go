package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// headers of every REST response. The original also claimed
// isBase64Encoded for plain JSON; these responses do not.
func headers() map[string]string {
	return map[string]string{
		"Content-Type":                  "application/json; charset=utf-8",
		"Access-Control-Allow-Origin":   "*",
		"Access-Control-Expose-Headers": protocol.ExposedHeaders,
	}
}

func jsonResponse(status int, v any) (events.APIGatewayProxyResponse, error) {
	e := getEncoder()
	defer e.put()
	b, err := e.encode(v)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers(), Body: string(b)}, nil
}

// encoder writes JSON as chatapp.MarshalJSON does (no HTML escaping), from a
// pool with its buffer: the push of every message and every REST answer is
// encoded here, and then costs what json.Marshal costs, one copy out.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// maxPooledBuffer keeps a buffer grown by one large body (a history page)
// out of the pool, so that the pool does not pin it.
const maxPooledBuffer = 64 << 10

func getEncoder() *encoder {
	e := encoders.Get().(*encoder)
	e.buf.Reset()
	return e
}

func (e *encoder) put() {
	if e.buf.Cap() <= maxPooledBuffer {
		encoders.Put(e)
	}
}

// encode appends v's JSON to the buffer and returns it, without the newline
// json.Encoder ends a value with. The slice is valid until the next use of e.
func (e *encoder) encode(v any) ([]byte, error) {
	start := e.buf.Len()
	if err := e.enc.Encode(v); err != nil {
		e.buf.Truncate(start)
		return nil, err
	}
	e.buf.Truncate(e.buf.Len() - 1)
	return e.buf.Bytes()[start:], nil
}

// marshal is json.Marshal without HTML escaping: the returned slice is the
// caller's.
func marshal(v any) ([]byte, error) {
	e := getEncoder()
	defer e.put()
	b, err := e.encode(v)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// errorResponse turns err into a JSON error response. The function itself
// succeeds: API Gateway would answer a failed invocation with a bare 502.
// Internal errors are logged here and reach the client as "internal error".
func (h *Handler) errorResponse(ctx context.Context, route string, err error) (events.APIGatewayProxyResponse, error) {
	status := protocol.ErrorStatus(err)
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
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: hdr, Body: string(protocol.EncodeError(err))}, nil
}
