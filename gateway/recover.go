package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/panics"
)

// A panic in the gateway ends what it happened in, never the process: a
// request gets a 500, a route's function counts as a failed invocation, as
// on Lambda (and a socket closes with 1011: the hub's). Every request the
// gateway serves recovers at its top; each recovered panic is logged with
// its stack and counted (Gateway.Panics, chatapp_panics_total).

// Where the gateway recovers panics: the label of their count.
const (
	panicHTTP        = iota // a request: REST, a handshake, the management API, the fallback
	panicIntegration        // a route's function, REST or WebSocket
)

var panicSites = []string{"http", "integration"}

// serveRecovering serves a request with next; a panic ends that request
// only. The client gets a 500 with the JSON error body if no header was
// written yet; otherwise the response is cut off (http.ErrAbortHandler),
// so that a partial answer never looks whole, and a hijacked connection is
// closed.
func (g *Gateway) serveRecovering(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rw := &trackingWriter{ResponseWriter: w}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler { // a deliberate abort, not a fault
			panic(v)
		}
		g.panics.Recovered(panicHTTP, v)
		if rw.hijacked != nil {
			rw.hijacked.Close()
		}
		if rw.wrote {
			panic(http.ErrAbortHandler)
		}
		clear(w.Header()) // what the handler meant for its own answer
		writeError(w, chatapp.Errorf(chatapp.EINTERNAL, "internal server error"))
	}()
	next.ServeHTTP(rw, r)
}

// trackingWriter records whether a response has begun: after that, a
// panic can no longer be answered.
type trackingWriter struct {
	http.ResponseWriter
	wrote    bool
	hijacked net.Conn
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the server's sendfile path for files the fallback serves.
func (w *trackingWriter) ReadFrom(src io.Reader) (int64, error) {
	w.wrote = true
	return io.Copy(w.ResponseWriter, src)
}

func (w *trackingWriter) Flush() {
	w.wrote = true
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (the WebSocket handshake).
func (w *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.wrote = true
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.hijacked = conn
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// callIntegration invokes a route's function as Lambda invokes one: a panic
// is that invocation's failure, an error like any other (REST: 502, a
// route: an error frame, $connect: a refused handshake), logged and counted,
// and so is a response over Lambda's payload quota (lambdapayload.go).
func callIntegration[E any, F ~func(context.Context, E) (events.APIGatewayProxyResponse, error)](ctx context.Context, counts *panics.Counts, fn F, event E) (resp events.APIGatewayProxyResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			counts.Recovered(panicIntegration, v)
			resp, err = events.APIGatewayProxyResponse{}, fmt.Errorf("the function panicked: %v", v)
		}
	}()
	if resp, err = fn(ctx, event); err == nil {
		if err = checkResponsePayload(resp); err != nil {
			resp = events.APIGatewayProxyResponse{}
		}
	}
	return resp, err
}
