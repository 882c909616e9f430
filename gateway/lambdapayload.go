package gateway

import (
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
)

// MaxResponsePayloadBytes is Lambda's quota on a synchronous invocation's
// response, "6 MB": 6 MiB and 100 bytes, as Lambda's own error says
// ("maximum allowed payload size (6291556 bytes)") and its runtime
// interface emulator counts (interop.MaxPayloadSize). On AWS a larger
// response never reaches API Gateway: the runtime's post of it is refused,
// the function fails, and API Gateway answers 502 (REST) or an error
// frame (a WebSocket route).
const MaxResponsePayloadBytes = 6<<20 + 100

// errResponseTooLarge is the invocation's failure when its response is
// over MaxResponsePayloadBytes.
var errResponseTooLarge = errors.New("Function.ResponseSizeTooLarge: the response is over Lambda's 6 MB payload quota")

// checkResponsePayload fails a response larger than Lambda takes, as
// aws-lambda-go encodes it (JSON without HTML escaping, as
// chatapp.MarshalJSON writes it: the size Lambda counts, the emulator
// shows). Every string byte encodes to at most 6 bytes (\u00XX), so a
// response whose strings are small is passed without encoding it: the
// cost falls on responses of about 1 MB and more.
func checkResponsePayload(resp events.APIGatewayProxyResponse) error {
	if responseBound(resp) <= MaxResponsePayloadBytes {
		return nil
	}
	b, err := chatapp.MarshalJSON(resp)
	if err != nil {
		return err
	}
	if len(b) > MaxResponsePayloadBytes {
		return errResponseTooLarge
	}
	return nil
}

// responseBound is at least the size of resp's JSON.
func responseBound(resp events.APIGatewayProxyResponse) int {
	const field = 8 // quotes, colon, comma around a header's key and value
	n := 128 + len(resp.Body)
	for k, v := range resp.Headers {
		n += field + len(k) + len(v)
	}
	for k, vs := range resp.MultiValueHeaders {
		n += field + len(k)
		for _, v := range vs {
			n += 3 + len(v)
		}
	}
	return 6 * n
}
