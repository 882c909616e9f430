package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// corsAllowHeaders are the request headers a preflight allows: those API
// Gateway's "Enable CORS" allows, and Idempotency-Key.
const corsAllowHeaders = "Content-Type,Authorization,Idempotency-Key,X-Amz-Date,X-Api-Key,X-Amz-Security-Token"

// serveREST turns a request into an APIGatewayProxyRequest for the function
// of its method and resource, and writes the function's response.
//
// Its reads and writes are bounded by the gateway itself: the body must
// arrive within ReadTimeout, be at most MaxBodyBytes and find room under
// MaxBufferedBodyBytes, and each answer must be written within
// WriteTimeout of its start.
func (g *Gateway) serveREST(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	g.startBodyDeadline(rc, r)
	raw := w
	w = &answerWriter{ResponseWriter: w, rc: rc, timeout: g.cfg.WriteTimeout}
	resource := strings.TrimSuffix(r.URL.Path, "/")
	methods := g.methods(resource)
	if len(methods) == 0 {
		// API Gateway's answer to a resource it does not have.
		g.writeGatewayResponse(w, ResponseMissingAuthenticationToken)
		return
	}
	if r.Method == http.MethodOptions {
		// The preflight is answered by the gateway, as API Gateway's CORS
		// configuration does, without invoking a function.
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", strings.Join(append(methods, http.MethodOptions), ","))
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	fn, ok := g.cfg.REST[r.Method+" "+resource]
	if !ok {
		// A method the resource does not have is API Gateway's unknown
		// route too: no 405, no Allow.
		g.writeGatewayResponse(w, ResponseMissingAuthenticationToken)
		return
	}
	if r.ContentLength > g.cfg.MaxBodyBytes {
		// Refused on its word, before a byte of it is read.
		g.refuseBody(w)
		return
	}
	// The authorizer runs before the body is read: an unauthenticated
	// client cannot make the gateway buffer a body.
	authorizer, err := g.authorizeREST(r, resource)
	if errors.Is(err, errThrottled) {
		refuseThrottled(w)
		return
	}
	if err != nil {
		var refused *authError
		if !errors.As(err, &refused) {
			panic("gateway: the authorizer's refusal is not an *authError")
		}
		g.writeGatewayResponse(w, refused.responseType)
		return
	}
	// The body's bytes are reserved before a byte of it is read, after
	// the authorizer: an unauthenticated client takes none of them.
	reserved := bodyReservation(r, g.cfg.MaxBodyBytes)
	if !g.restBodies.Reserve(reserved) {
		refuseBodyBudget(w)
		return
	}
	defer g.restBodies.Release(reserved) // held until the answer is written: the event holds the body
	g.startBodyDeadline(rc, r)           // the body's full time, however long the authorizer took
	body, err := io.ReadAll(http.MaxBytesReader(raw, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			g.refuseBody(w)
		case errors.Is(err, os.ErrDeadlineExceeded):
			// 408, the gateway's own (API Gateway's front end bounds a
			// slow client otherwise), in the project's body; ErrorCodeOf
			// reads any 4xx outside the table as invalid.
			w.Header().Set("Connection", "close")
			w.Header().Set("Access-Control-Allow-Origin", "*")
			writeJSON(w, http.StatusRequestTimeout, protocol.EncodeError(chatapp.Errorf(chatapp.EINVALID, "the request body did not arrive within %v", g.cfg.ReadTimeout)))
		default:
			writeError(w, chatapp.Errorf(chatapp.EINVALID, "could not read the request body"))
		}
		return
	}
	event := g.restEvent(r, resource, body)
	event.RequestContext.Authorizer = authorizer
	ctx, cancel := context.WithTimeout(invocationContext(r), g.cfg.integrationTimeout)
	defer cancel()
	resp, err := g.integrateREST(ctx, fn, event)
	if errors.Is(err, errThrottled) {
		refuseThrottled(w)
		return
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// API Gateway answers at the integration timeout with its own 504
		// (INTEGRATION_TIMEOUT), whatever the function returns later. A
		// function here that ignores its context is answered so when it
		// returns.
		g.cfg.Logger.Error("integration timed out", "method", r.Method, "resource", resource, "timeout", g.cfg.integrationTimeout)
		g.writeGatewayResponse(w, ResponseIntegrationTimeout)
		return
	}
	if err != nil {
		// A failed invocation is API Gateway's INTEGRATION_FAILURE, 502.
		g.cfg.Logger.Error("integration failed", "method", r.Method, "resource", resource, "err", err)
		g.writeGatewayResponse(w, ResponseIntegrationFailure)
		return
	}
	writeProxyResponse(w, resp)
}

// invocationContext is the context a function runs under. A read (GET,
// HEAD) ends when its client leaves: nobody will see its answer, and a
// client that sends requests and hangs up at once must not keep the
// store busy with them. A write runs to its end whatever the client does,
// as on Lambda, so that what it stored and what it pushed agree.
func invocationContext(r *http.Request) context.Context {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r.Context()
	}
	return context.WithoutCancel(r.Context())
}

// errThrottled is a function call refused for want of a place under
// MaxConcurrentRequests.
var errThrottled = errors.New("too many requests in progress")

// refuseThrottled answers a request whose function found no place under
// MaxConcurrentRequests, as Lambda's concurrency limit throttles an
// account: the gateway's own answer (503, the project's body), which API
// Gateway has no gateway response for.
func refuseThrottled(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeError(w, chatapp.Errorf(chatapp.EUNAVAILABLE, "too many requests in progress: retry shortly"))
}

// authorizeREST runs the REST authorizer, if there is one, in a place
// under MaxConcurrentRequests held only while it runs; errThrottled when
// none is free.
func (g *Gateway) authorizeREST(r *http.Request, resource string) (map[string]any, error) {
	if g.cfg.Authorizer == nil {
		return nil, nil
	}
	if !g.startInvocation() {
		return nil, errThrottled
	}
	defer g.endInvocation()
	return g.authorize(r.Context(), g.restAuthorizerEvent(r, resource))
}

// integrateREST runs a REST method's function in a place under
// MaxConcurrentRequests held only while it runs; errThrottled when none
// is free.
func (g *Gateway) integrateREST(ctx context.Context, fn RESTFunc, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if !g.startInvocation() {
		return events.APIGatewayProxyResponse{}, errThrottled
	}
	defer g.endInvocation()
	return callIntegration(ctx, g.panics, fn, event)
}

// startInvocation takes one of the MaxConcurrentRequests places for one
// function call of a REST request (its authorizer, then its integration),
// as Lambda's concurrency limit throttles an account by the functions that
// run: the place is not held while the client sends its body, so clients
// that send slowly cannot take every place. False when none is free.
// endInvocation gives it back.
func (g *Gateway) startInvocation() bool {
	if g.cfg.MaxConcurrentRequests <= 0 {
		return true
	}
	if g.inFlight.Add(1) > int64(g.cfg.MaxConcurrentRequests) {
		g.inFlight.Add(-1)
		return false
	}
	return true
}

func (g *Gateway) endInvocation() {
	if g.cfg.MaxConcurrentRequests > 0 {
		g.inFlight.Add(-1)
	}
}

// startBodyDeadline gives the request's body ReadTimeout from now to
// arrive. A request without a body gets no deadline: net/http is already
// reading its connection in the background (to notice a client that
// leaves), and a deadline would cut that read and cancel the connection.
// Once a body is read to its end, net/http clears the deadline itself.
func (g *Gateway) startBodyDeadline(rc *http.ResponseController, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		rc.SetReadDeadline(time.Now().Add(g.cfg.ReadTimeout))
	}
}

// refuseBody answers a body the gateway will not read (whole) with
// REQUEST_TOO_LARGE, 413 too_large, and closes the connection after the
// answer: net/http would otherwise read the rest of the body, up to 256
// KB, before even sending the answer. What it still drains after the
// answer, so that the client can read it rather than a reset, stays
// bounded by the body's deadline. (Below API Gateway's 10 MB, where serve
// sets MaxBodyBytes, it stands for the function's own 413 too_large.)
func (g *Gateway) refuseBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	g.writeGatewayResponse(w, ResponseRequestTooLarge)
}

// answerWriter starts the write deadline when an answer starts, so that
// each answer gets WriteTimeout to be written, however long the authorizer
// and the function took before it. Every answer of serveREST begins with
// an explicit WriteHeader.
type answerWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (a *answerWriter) WriteHeader(status int) {
	a.rc.SetWriteDeadline(time.Now().Add(a.timeout))
	a.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (a *answerWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// methods lists the methods configured on a resource, sorted.
func (g *Gateway) methods(resource string) []string {
	var out []string
	for key := range g.cfg.REST {
		method, res, _ := strings.Cut(key, " ")
		if res == resource {
			out = append(out, method)
		}
	}
	slices.Sort(out)
	return out
}

func (g *Gateway) restEvent(r *http.Request, resource string, body []byte) events.APIGatewayProxyRequest {
	now := time.Now()
	headers, multiHeaders := splitHeaders(r)
	query, multiQuery := splitQuery(r.URL.RawQuery)
	e := events.APIGatewayProxyRequest{
		Resource:                        resource,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multiHeaders,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        localAccountID,
			Stage:            g.cfg.Stage,
			RequestID:        newRequestID(),
			ResourcePath:     resource,
			Path:             "/" + g.cfg.Stage + r.URL.Path,
			HTTPMethod:       r.Method,
			APIID:            localRESTAPIID,
			DomainName:       r.Host,
			Protocol:         r.Proto,
			RequestTime:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			Identity:         identity(r),
		},
	}
	e.Body, e.IsBase64Encoded = eventBody(body, utf8.Valid(body))
	return e
}

// Identifiers API Gateway would put into events.
const (
	localAccountID      = "000000000000"
	localRESTAPIID      = "local-rest"
	localWebSocketAPIID = "local-websocket"
)

func identity(r *http.Request) events.APIGatewayRequestIdentity {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: r.UserAgent()}
}

// eventBody passes text (utf8Valid: body is UTF-8, which the caller
// checked) as is and anything else as base64, as API Gateway does.
func eventBody(body []byte, utf8Valid bool) (string, bool) {
	if utf8Valid {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

// splitHeaders gives the single-value (last value wins) and multi-value
// header maps of a proxy event; nil when there are none, as on AWS.
func splitHeaders(r *http.Request) (map[string]string, map[string][]string) {
	if len(r.Header) == 0 && r.Host == "" {
		return nil, nil
	}
	single := map[string]string{}
	multi := map[string][]string{}
	for k, vs := range r.Header {
		single[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	if r.Host != "" {
		single["Host"] = r.Host
		multi["Host"] = []string{r.Host}
	}
	return single, multi
}

// splitQuery parses a query string as API Gateway does: a trailing "&" is
// harmless, and no parameters give nil maps (the original handlers crashed
// on exactly that).
func splitQuery(raw string) (map[string]string, map[string][]string) {
	values, _ := url.ParseQuery(raw)
	if len(values) == 0 {
		return nil, nil
	}
	single := map[string]string{}
	for k, vs := range values {
		single[k] = vs[len(vs)-1]
	}
	return single, values
}

// writeProxyResponse applies a Lambda proxy response.
func writeProxyResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(resp.Body)
		if err == nil {
			body = decoded
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
}

// writeError writes the gateway's own errors that API Gateway has no
// gateway response for in the functions' JSON format.
func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", protocol.ExposedHeaders)
	writeJSON(w, protocol.ErrorStatus(err), protocol.EncodeError(err))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}
