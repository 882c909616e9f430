package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
)

// localRegion is the region of the ARNs the gateway makes.
const localRegion = "us-east-1"

// authorize runs the Lambda REQUEST authorizer, if one is configured, as
// API Gateway does before an integration: the error "Unauthorized" is 401,
// a policy that does not allow methodArn (or denies it) 403, any other
// failure 500. A refusal is an *authError. It returns what the integration
// gets as requestContext.authorizer: the authorizer's context, its
// principalId and integrationLatency; nil without an authorizer.
func (g *Gateway) authorize(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
	if g.cfg.Authorizer == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.integrationTimeout)
	defer cancel()
	start := time.Now()
	resp, err := g.cfg.Authorizer(ctx, req)
	latency := time.Since(start).Milliseconds()
	switch {
	case err != nil && err.Error() == "Unauthorized":
		return nil, refuse(ResponseUnauthorized, chatapp.EUNAUTHORIZED, "Unauthorized")
	case err != nil:
		// The error may quote the function's output, never the request.
		g.cfg.Logger.Error("authorizer failed", "method_arn", req.MethodArn, "err", err)
		return nil, refuse(ResponseAuthorizerFailure, chatapp.EINTERNAL, "internal server error")
	case req.RequestContext.APIID == localWebSocketAPIID && encodedSize(resp) > maxWebSocketAuthorizerResult:
		// API Gateway refuses a WebSocket authorizer's answer over 8 KB.
		g.cfg.Logger.Error("authorizer answer larger than 8 KB", "method_arn", req.MethodArn)
		return nil, refuse(ResponseAuthorizerConfigurationError, chatapp.EINTERNAL, "internal server error")
	case !allows(resp.PolicyDocument, req.MethodArn):
		return nil, refuse(ResponseAccessDenied, chatapp.EFORBIDDEN, "User is not authorized to access this resource")
	}
	out := map[string]any{}
	for k, v := range resp.Context {
		switch v.(type) {
		case string, bool, float64, float32, int, int64, int32, json.Number:
			out[k] = v
		default:
			// API Gateway refuses a context value that is an object or an
			// array (AUTHORIZER_CONFIGURATION_ERROR).
			g.cfg.Logger.Error("authorizer context value is not a string, number or boolean", "key", k)
			return nil, refuse(ResponseAuthorizerConfigurationError, chatapp.EINTERNAL, "internal server error")
		}
	}
	out["principalId"] = resp.PrincipalID
	out["integrationLatency"] = latency
	return out, nil
}

// authError is the authorizer's refusal of a request: a REST request is
// answered with the gateway response of its type, a WebSocket handshake
// (the WebSocket API has no gateway responses) with the chatapp error it
// unwraps to.
type authError struct {
	responseType string
	err          *chatapp.Error
}

func refuse(responseType, code, message string) *authError {
	return &authError{responseType, &chatapp.Error{Code: code, Message: message}}
}

func (e *authError) Error() string { return e.err.Error() }

// Unwrap makes protocol.ErrorStatus and protocol.EncodeError read the
// chatapp error.
func (e *authError) Unwrap() error { return e.err }

// maxWebSocketAuthorizerResult is API Gateway's limit on a WebSocket API
// authorizer's answer (policy and context).
const maxWebSocketAuthorizerResult = 8 << 10

// encodedSize is v's size as JSON; an answer that cannot be encoded is
// counted as too large.
func encodedSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}

// allows evaluates an authorizer's policy for one method ARN as IAM does:
// an explicit Deny wins, else some Allow must match.
func allows(policy events.APIGatewayCustomAuthorizerPolicy, methodArn string) bool {
	allowed := false
	for _, s := range policy.Statement {
		if !matchesAny(s.Action, "execute-api:Invoke") || !matchesAny(s.Resource, methodArn) {
			continue
		}
		switch strings.ToLower(s.Effect) {
		case "deny":
			return false
		case "allow":
			allowed = true
		}
	}
	return allowed
}

// matchesAny reports whether one of the IAM patterns (with * and ?)
// matches s.
func matchesAny(patterns []string, s string) bool {
	for _, p := range patterns {
		expr := strings.NewReplacer(`\*`, `.*`, `\?`, `.`).Replace(regexp.QuoteMeta(p))
		if ok, _ := regexp.MatchString("(?i)^"+expr+"$", s); ok {
			return true
		}
	}
	return false
}

// methodArn is the ARN API Gateway gives an authorizer: .../stage/GET/chat
// for a REST method, .../stage/$connect for the WebSocket API.
func (g *Gateway) methodArn(apiID, route string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s", localRegion, localAccountID, apiID, g.cfg.Stage, route)
}

// authorizerEvent is the REQUEST authorizer's input for r: its headers and
// query; a REST method's also names the resource and method.
func (g *Gateway) authorizerEvent(r *http.Request, apiID, route string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	e := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:      "REQUEST",
		MethodArn: g.methodArn(apiID, route),
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			AccountID: localAccountID,
			Stage:     g.cfg.Stage,
			RequestID: newRequestID(),
			APIID:     apiID,
			Identity:  events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: identity(r).SourceIP},
		},
	}
	e.Headers, e.MultiValueHeaders = splitHeaders(r)
	e.QueryStringParameters, e.MultiValueQueryStringParameters = splitQuery(r.URL.RawQuery)
	return e
}

// restAuthorizerEvent is authorizerEvent for a REST method on resource.
func (g *Gateway) restAuthorizerEvent(r *http.Request, resource string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	e := g.authorizerEvent(r, localRESTAPIID, r.Method+resource)
	e.Resource, e.Path, e.HTTPMethod = resource, r.URL.Path, r.Method
	e.RequestContext.Path = "/" + g.cfg.Stage + r.URL.Path
	e.RequestContext.ResourcePath = resource
	e.RequestContext.HTTPMethod = r.Method
	return e
}
