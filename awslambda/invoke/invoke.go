// Package invoke makes the functions the local gateway's integrations: in
// process (InProcess), or out of process through the Lambda Invoke API
// (aws-sdk-go-v2's lambda client), under the runtime interface emulator. It
// is a package of its own so that the functions' bootstrap links neither the
// gateway nor the Lambda client.
package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

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
	// execution environment, and a second concurrent invoke crashes it
	// ("ReserveFailed: AlreadyReserved", then the emulator exits). See
	// invokeSerial.
	Serial bool
	// Timeout is the function's Lambda timeout (awslambda.Timeout), which
	// bounds a Serial invocation (with serialMargin); 0 is the emulator's
	// default, 300 s.
	Timeout time.Duration

	once sync.Once
	// turn holds a token while a Serial invocation runs in the emulator.
	turn chan struct{}
}

// Invoke sends event as the payload and decodes the function's
// APIGatewayProxyResponse. A function error (a panic, a returned error) is
// an error here, which the gateway answers with 502 as API Gateway does.
func (i *Invoker) Invoke(ctx context.Context, event any) (events.APIGatewayProxyResponse, error) {
	var resp events.APIGatewayProxyResponse
	err := i.invoke(ctx, event, &resp)
	return resp, err
}

// invoke sends event and decodes the function's answer into out.
func (i *Invoker) invoke(ctx context.Context, event, out any) error {
	payload, err := json.Marshal(event)
	if err != nil {
		return err
	}
	in := &lambda.InvokeInput{FunctionName: aws.String(i.FunctionName), Payload: payload}
	var res *lambda.InvokeOutput
	if i.Serial {
		res, err = i.invokeSerial(ctx, in)
	} else {
		res, err = i.Client.Invoke(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("invoke %s: %w", i.FunctionName, err)
	}
	if res.FunctionError != nil {
		return &FunctionError{Function: i.FunctionName, Type: *res.FunctionError, Payload: res.Payload}
	}
	if bytes.HasPrefix(res.Payload, rieTimedOut) {
		// The emulator answers a function past its timeout with this text
		// alone, neither JSON nor flagged as a function error.
		payload, _ := json.Marshal(map[string]string{"errorMessage": string(res.Payload), "errorType": "Sandbox.Timedout"})
		return &FunctionError{Function: i.FunctionName, Type: "Sandbox.Timedout", Payload: payload}
	}
	if err := json.Unmarshal(res.Payload, out); err != nil {
		return fmt.Errorf("function %s returned %q: %w", i.FunctionName, res.Payload, err)
	}
	return nil
}

// invokeSerial sends one invocation at a time. A caller waits for its turn
// as long as its context lets it. Its invocation then runs to the
// emulator's answer whatever the caller does: ending the Invoke request
// would not stop the function, and the next invocation would reach the
// emulator while it still runs this one, which crashes it. A caller whose
// context ends (a GET whose client hung up, an authorizer's handshake
// dropped) gets its error at once, and the invocation goes on in the
// background, keeping the turn until the emulator answers: so at most one
// abandoned invocation per emulator, and the callers queued behind it
// wait only as long as their own contexts allow.
//
// The invocation is still bounded, by the function's timeout and
// serialMargin: the emulator ends a function at its timeout itself, so
// the bound is reached only by an emulator that no longer answers.
func (i *Invoker) invokeSerial(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
	i.once.Do(func() { i.turn = make(chan struct{}, 1) })
	select {
	case i.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if err := context.Cause(ctx); err != nil {
		<-i.turn // the caller left while it got its turn: nothing to run
		return nil, err
	}
	type result struct {
		res *lambda.InvokeOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-i.turn }()
		timeout := i.Timeout
		if timeout <= 0 {
			timeout = rieDefaultTimeout
		}
		// The emulator counts whole seconds, a fraction rounded up.
		timeout = timeout.Truncate(time.Second) + time.Second + serialMargin
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		res, err := i.Client.Invoke(ictx, in)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// serialMargin is how much longer than the function's timeout a Serial
// invocation may take: the emulator starts the function (Lambda's init
// phase, limited to 10 s) within the first invocation, and restarts it
// after one that timed out.
const serialMargin = 10 * time.Second

// rieDefaultTimeout is the emulator's function timeout when none is given
// (AWS_LAMBDA_FUNCTION_TIMEOUT unset).
const rieDefaultTimeout = 300 * time.Second

// rieTimedOut begins the runtime interface emulator's answer to an
// invocation past the function's timeout: "Task timed out after 1.00
// seconds", the message Lambda logs.
var rieTimedOut = []byte("Task timed out after ")

// FunctionError is a function's failure: a returned error or a panic, with
// Lambda's {"errorMessage","errorType"} payload.
type FunctionError struct {
	Function, Type string
	Payload        []byte
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s failed (%s): %s", e.Function, e.Type, e.Payload)
}

// Message is the error's errorMessage.
func (e *FunctionError) Message() string {
	var p struct {
		ErrorMessage string `json:"errorMessage"`
	}
	json.Unmarshal(e.Payload, &p)
	return p.ErrorMessage
}

// Authorizer returns the invoker as a Lambda REQUEST authorizer. The
// function's error "Unauthorized" comes back as an error of that very text,
// which the gateway, as API Gateway, answers with 401.
func (i *Invoker) Authorizer() func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(ctx context.Context, e events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		var resp struct {
			events.APIGatewayCustomAuthorizerResponse
			// The runtime interface emulator answers a function error
			// as a payload, without the X-Amz-Function-Error header.
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
		}
		err := i.invoke(ctx, e, &resp)
		var fe *FunctionError
		switch {
		case errors.As(err, &fe) && fe.Message() == "Unauthorized", err == nil && resp.ErrorMessage == "Unauthorized":
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		case err == nil && resp.ErrorType != "":
			return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("function %s failed (%s): %s", i.FunctionName, resp.ErrorType, resp.ErrorMessage)
		}
		return resp.APIGatewayCustomAuthorizerResponse, err
	}
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
