package awslambda

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Invoker calls one Lambda function through the Invoke API: on AWS, or the
// runtime interface emulator, whose function is always named "function".
type Invoker struct {
	Client       *lambda.Client
	FunctionName string
	// Serial makes one call at a time, as the emulator needs: it runs one
	// execution environment, and a second concurrent invoke crashes it.
	Serial bool

	mu sync.Mutex
}

// Invoke sends event as the payload and decodes the function's
// APIGatewayProxyResponse. A function error (a panic, a returned error) is
// an error here, which the gateway answers with 502 as API Gateway does.
func (i *Invoker) Invoke(ctx context.Context, event any) (events.APIGatewayProxyResponse, error) {
	payload, err := json.Marshal(event)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if i.Serial {
		i.mu.Lock()
		defer i.mu.Unlock()
	}
	out, err := i.Client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(i.FunctionName), Payload: payload})
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("invoke %s: %w", i.FunctionName, err)
	}
	if out.FunctionError != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("function %s failed (%s): %s", i.FunctionName, *out.FunctionError, out.Payload)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("function %s returned %q: %w", i.FunctionName, out.Payload, err)
	}
	return resp, nil
}

// REST returns the invoker as a REST integration.
func (i *Invoker) REST() func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return i.Invoke(ctx, e)
	}
}

// WebSocket returns the invoker as a WebSocket route integration.
func (i *Invoker) WebSocket() func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, e events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return i.Invoke(ctx, e)
	}
}
