// Command slowfunction is a Lambda function for tests, run as any of the
// functions (it ignores _HANDLER): it sleeps as many milliseconds as the
// event's query parameter sleep_ms asks, ignoring its context, as a stuck
// function would, then answers how far its context's deadline was when it
// started, in milliseconds: as a proxy response's body and as an
// authorizer's context value deadline_ms, so that a test can see the
// timeout each function runs under.
//
// Two more parameters let a test order events without clocks: started_file
// is a file it creates as soon as it runs, and release_file a file it
// waits for (until its deadline) before it answers.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	QueryStringParameters map[string]string `json:"queryStringParameters"`
}

type answer struct {
	StatusCode  int            `json:"statusCode"`
	Body        string         `json:"body"`
	PrincipalID string         `json:"principalId"`
	Context     map[string]any `json:"context"`
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (answer, error) {
		left := int64(-1)
		if deadline, ok := ctx.Deadline(); ok {
			left = time.Until(deadline).Milliseconds()
		}
		q := e.QueryStringParameters
		if name := q["started_file"]; name != "" {
			if err := os.WriteFile(name, nil, 0o600); err != nil {
				return answer{}, err
			}
		}
		if name := q["release_file"]; name != "" {
			for ctx.Err() == nil {
				if _, err := os.Stat(name); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		ms, _ := strconv.Atoi(q["sleep_ms"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return answer{StatusCode: 200, Body: strconv.FormatInt(left, 10), PrincipalID: "slow", Context: map[string]any{"deadline_ms": left}}, nil
	})
}
