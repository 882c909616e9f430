package awslambda

import (
	"net/http"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// GatewayResponse is one of the REST API's gateway responses: an answer
// API Gateway gives by itself, without a function (an unknown route, the
// authorizer's refusal, a body too large, throttling, a function that
// failed or timed out). Without one, API Gateway answers
// {"message": "..."}; with these, a client meets the project's
// {"error":{"code","message"}} from API Gateway as from the functions.
type GatewayResponse struct {
	// Status is the HTTP status the client gets: AWS's default for the
	// type, or the template's StatusCode where it sets another. 0 for
	// DEFAULT_4XX and DEFAULT_5XX, which keep the status of the answer
	// they stand in for.
	Status int
	// Code is the chatapp error code of the body.
	Code string
	// Message is the body's message; "" is API Gateway's own message for
	// the error ($context.error.messageString).
	Message string
}

// RESTGatewayResponses are the REST API's gateway responses by type: one
// for each type the API can meet (it has a Lambda authorizer, stage
// throttling and Lambda proxy integrations; no API keys, request
// validators, IAM authorization or WAF), and DEFAULT_4XX and DEFAULT_5XX
// for any other. template.yaml defines each (awslambda/template_test.go
// checks it), and the local gateway answers with the same
// (gateway.Config.GatewayResponses).
var RESTGatewayResponses = map[string]GatewayResponse{
	"DEFAULT_4XX": {Code: chatapp.EINVALID},
	"DEFAULT_5XX": {Code: chatapp.EINTERNAL},
	// An unknown method or resource: 404 rather than AWS's 403, so that
	// a client with a wrong URL is not told it is forbidden.
	"MISSING_AUTHENTICATION_TOKEN":   {http.StatusNotFound, chatapp.ENOTFOUND, "no such method or resource"},
	"UNAUTHORIZED":                   {http.StatusUnauthorized, chatapp.EUNAUTHORIZED, "Unauthorized"},
	"ACCESS_DENIED":                  {http.StatusForbidden, chatapp.EFORBIDDEN, "User is not authorized to access this resource"},
	"AUTHORIZER_FAILURE":             {http.StatusInternalServerError, chatapp.EINTERNAL, "internal server error"},
	"AUTHORIZER_CONFIGURATION_ERROR": {http.StatusInternalServerError, chatapp.EINTERNAL, "internal server error"},
	"REQUEST_TOO_LARGE":              {http.StatusRequestEntityTooLarge, chatapp.ETOOLARGE, "request body is too large"},
	"THROTTLED":                      {http.StatusTooManyRequests, chatapp.ERATELIMIT, "too many requests: retry shortly"},
	// A function's failure is 502 (AWS's table says 504, but a Lambda
	// proxy integration's failure is answered 502): the template sets it.
	"INTEGRATION_FAILURE": {http.StatusBadGateway, chatapp.EINTERNAL, "internal server error"},
	"INTEGRATION_TIMEOUT": {http.StatusGatewayTimeout, chatapp.EUNAVAILABLE, "the function did not answer in time"},
}

// Template is the application/json response template of r in
// template.yaml: the body protocol.EncodeError writes, or with API
// Gateway's message, $context.error.messageString (a JSON string, quotes
// included).
func (r GatewayResponse) Template() string {
	if r.Message != "" {
		return string(protocol.EncodeError(&chatapp.Error{Code: r.Code, Message: r.Message}))
	}
	code, _ := chatapp.MarshalJSON(r.Code) // a string: cannot fail
	return `{"error":{"code":` + string(code) + `,"message":$context.error.messageString}}`
}
