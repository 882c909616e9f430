package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
)

// maxRESTPayload is API Gateway's 10 MB request payload quota.
const maxRESTPayload = 10 << 20

// corsAllowHeaders are the request headers a preflight allows: those API
// Gateway's "Enable CORS" allows, and Idempotency-Key.
const corsAllowHeaders = "Content-Type,Authorization,Idempotency-Key,X-Amz-Date,X-Api-Key,X-Amz-Security-Token"

// serveREST turns a request into an APIGatewayProxyRequest for the function
// of its method and resource, and writes the function's response.
func (g *Gateway) serveREST(w http.ResponseWriter, r *http.Request) {
	resource := strings.TrimSuffix(r.URL.Path, "/")
	methods := g.methods(resource)
	if len(methods) == 0 {
		writeError(w, chatapp.Errorf(chatapp.ENOTFOUND, "no resource %s", r.URL.Path))
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
		w.Header().Set("Allow", strings.Join(append(methods, http.MethodOptions), ", "))
		writeError(w, chatapp.Errorf(chatapp.ENOTALLOWED, "method %s is not allowed on %s", r.Method, resource))
		return
	}
	// The authorizer runs before the body is read: an unauthenticated
	// client cannot make the gateway buffer 10 MB.
	authorizer, err := g.authorize(r.Context(), g.restAuthorizerEvent(r, resource))
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRESTPayload))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, chatapp.Errorf(chatapp.ETOOLARGE, "request body is larger than %d bytes", maxRESTPayload))
			return
		}
		writeError(w, chatapp.Errorf(chatapp.EINVALID, "could not read the request body"))
		return
	}
	event := g.restEvent(r, resource, body)
	event.RequestContext.Authorizer = authorizer
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), integrationTimeout)
	defer cancel()
	resp, err := callIntegration(ctx, g.hub, fn, event)
	if err != nil {
		// A failed invocation is API Gateway's 502.
		g.cfg.Logger.Error("integration failed", "method", r.Method, "resource", resource, "err", err)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusBadGateway, chatapp.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
		return
	}
	writeProxyResponse(w, resp)
}

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
	e.Body, e.IsBase64Encoded = encodeBody(body)
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

// encodeBody passes text as is and binary as base64, as API Gateway does.
func encodeBody(body []byte) (string, bool) {
	if utf8.Valid(body) {
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

// writeError writes the gateway's own errors in the functions' JSON format.
func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, chatapp.ErrorStatus(err), chatapp.EncodeError(err))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}
