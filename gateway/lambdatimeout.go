package gateway

import (
	"context"
	"fmt"
	"time"
)

// WithLambdaTimeout runs fn as Lambda runs a function whose timeout is
// timeout: its context's deadline is the timeout (aws-lambda-go gives a
// function on Lambda the same deadline), and an invocation still running
// at it has failed, whatever fn returns afterwards: Lambda stops the
// function ("Task timed out after 10.00 seconds") and its answer never
// reaches API Gateway. The gateway answers that failure as any other: 502
// (INTEGRATION_FAILURE) to a REST client, an error frame to a WebSocket
// route's sender, a refused handshake for $connect, AUTHORIZER_FAILURE
// for the authorizer. What it pushes after the timeout reaches no one:
// the Hub refuses a done context, as API Gateway's Management API would
// refuse a call made under it. API Gateway's own integration timeout
// (29 s, 504) stays the gateway's and bounds the context too.
//
// A function in this process cannot be stopped: one that ignores its
// context fails when it returns, not at its timeout. Functions under the
// runtime interface emulator need no wrapper: the emulator keeps their
// timeout itself (rie.Options.Timeout).
func WithLambdaTimeout[E, R any](fn func(context.Context, E) (R, error), timeout time.Duration) func(context.Context, E) (R, error) {
	timedOut := fmt.Errorf("Task timed out after %.2f seconds", timeout.Seconds())
	return func(ctx context.Context, event E) (R, error) {
		ctx, cancel := context.WithTimeoutCause(ctx, timeout, timedOut)
		defer cancel()
		resp, err := fn(ctx, event)
		// The cause is timedOut only when this deadline passed, not the
		// integration's (its own cause) nor a client's cancellation.
		if context.Cause(ctx) == timedOut {
			var none R
			return none, timedOut
		}
		return resp, err
	}
}
