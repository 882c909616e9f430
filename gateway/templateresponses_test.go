package gateway_test

import (
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/gateway"
)

// templateResponses is awslambda.RESTGatewayResponses, the gateway
// responses of template.yaml, as chatapp serve hands them to the gateway:
// with them the REST API's own answers carry the project's error body.
func templateResponses() map[string]gateway.GatewayResponse {
	out := map[string]gateway.GatewayResponse{}
	for typ, r := range awslambda.RESTGatewayResponses {
		out[typ] = gateway.GatewayResponse(r)
	}
	return out
}
