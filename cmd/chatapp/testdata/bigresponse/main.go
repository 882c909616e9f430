// Command bigresponse is a Lambda function for tests: its REST answer's body
// is as many bytes ("a") as the query parameter bytes asks, so that a test
// can put the proxy response just under or just over Lambda's 6 MB
// response payload quota.
package main

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		n, _ := strconv.Atoi(e.QueryStringParameters["bytes"])
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: strings.Repeat("a", n)}, nil
	})
}
