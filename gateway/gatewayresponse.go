package gateway

import (
	"net/http"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// The REST API's own answers, those API Gateway gives without a function
// (an unknown route, a refusal of the authorizer, a body too large, a
// function that failed or timed out), are its gateway responses: each has
// a type, a status and a body. An API that defines none answers with AWS's
// defaults, {"message": "..."}; template.yaml defines them in the
// project's {"error":{"code","message"}} instead, and Config.GatewayResponses
// gives the gateway the same table (awslambda.RESTGatewayResponses), so
// that a client meets one shape here and on AWS. The WebSocket API has no
// gateway responses on AWS: its refused handshakes and error frames are
// not taken from here.

// The gateway response types the gateway answers with, as AWS names them
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
const (
	// ResponseMissingAuthenticationToken answers a method or resource the
	// API does not have ("including the cases when the client attempts to
	// invoke an unsupported API method or resource").
	ResponseMissingAuthenticationToken = "MISSING_AUTHENTICATION_TOKEN"
	// ResponseUnauthorized: the authorizer failed the caller with the
	// error "Unauthorized".
	ResponseUnauthorized = "UNAUTHORIZED"
	// ResponseAccessDenied: the authorizer's policy does not allow the
	// method.
	ResponseAccessDenied = "ACCESS_DENIED"
	// ResponseAuthorizerFailure: the authorizer's invocation failed.
	ResponseAuthorizerFailure = "AUTHORIZER_FAILURE"
	// ResponseAuthorizerConfigurationError: the authorizer answered what
	// API Gateway cannot use (a context value that is an object).
	ResponseAuthorizerConfigurationError = "AUTHORIZER_CONFIGURATION_ERROR"
	// ResponseRequestTooLarge: the request body is over the limit.
	ResponseRequestTooLarge = "REQUEST_TOO_LARGE"
	// ResponseIntegrationFailure: the function failed (an error, a panic,
	// a response over Lambda's 6 MB).
	ResponseIntegrationFailure = "INTEGRATION_FAILURE"
	// ResponseIntegrationTimeout: the function did not answer within the
	// 29-second integration timeout.
	ResponseIntegrationTimeout = "INTEGRATION_TIMEOUT"
)

// GatewayResponse is a gateway response as template.yaml defines it: the
// status and the code and message of its {"error":{...}} body.
type GatewayResponse struct {
	Status  int
	Code    string
	Message string
}

// awsDefaultResponses are the status and message API Gateway answers each
// type with when the API defines no gateway response for it, in its
// default body {"message": "..."}: the status of AWS's table, except
// INTEGRATION_FAILURE, which a Lambda proxy integration's failure answers
// with 502 (DataBiosphere/azul#8258, aws/aws-lambda-go#72), and the message
// API Gateway is seen to give (the status's text where none is known).
var awsDefaultResponses = map[string]GatewayResponse{
	ResponseMissingAuthenticationToken:   {Status: http.StatusForbidden, Message: "Missing Authentication Token"},
	ResponseUnauthorized:                 {Status: http.StatusUnauthorized, Message: "Unauthorized"},
	ResponseAccessDenied:                 {Status: http.StatusForbidden, Message: "User is not authorized to access this resource"},
	ResponseAuthorizerFailure:            {Status: http.StatusInternalServerError, Message: "Internal server error"},
	ResponseAuthorizerConfigurationError: {Status: http.StatusInternalServerError, Message: "Internal server error"},
	ResponseRequestTooLarge:              {Status: http.StatusRequestEntityTooLarge, Message: http.StatusText(http.StatusRequestEntityTooLarge)},
	ResponseIntegrationFailure:           {Status: http.StatusBadGateway, Message: "Internal server error"},
	ResponseIntegrationTimeout:           {Status: http.StatusGatewayTimeout, Message: "Endpoint request timed out"},
}

// gatewayAnswer is a gateway response ready to write.
type gatewayAnswer struct {
	status int
	body   []byte
}

// gatewayAnswers makes the answer of every type the gateway gives: the
// configured response where there is one, else AWS's default.
func gatewayAnswers(configured map[string]GatewayResponse) map[string]gatewayAnswer {
	out := make(map[string]gatewayAnswer, len(awsDefaultResponses))
	for typ, def := range awsDefaultResponses {
		r, ok := configured[typ]
		if !ok {
			body, _ := chatapp.MarshalJSON(map[string]string{"message": def.Message}) // one string: cannot fail
			out[typ] = gatewayAnswer{def.Status, body}
			continue
		}
		out[typ] = gatewayAnswer{r.Status, protocol.EncodeError(&chatapp.Error{Code: r.Code, Message: r.Message})}
	}
	return out
}

// writeGatewayResponse answers a REST request with the gateway response of
// type typ. Like every gateway response of template.yaml it carries
// Access-Control-Allow-Origin: *, so that a browser can read it.
func (g *Gateway) writeGatewayResponse(w http.ResponseWriter, typ string) {
	a, ok := g.answers[typ]
	if !ok {
		panic("gateway: no gateway response of type " + typ)
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, a.status, a.body)
}
