// Package awsenv holds chatapp's AWS SDK settings that need no SDK loader:
// the retryer every client uses, and the configuration of a Lambda function
// from the variables Lambda sets. The bootstrap imports it; chatapp serve
// and the tests load their configuration with internal/awsconfig, which
// sets the same retryer. It must not import the SDK's loader
// (aws-sdk-go-v2/config): that would put it back in the bootstrap.
package awsenv

import (
	"cmp"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatapp-dev/chatapp/dynamodb"
)

// Retryer is the SDK's standard retryer as every client of chatapp uses
// it: throttled and failed requests (DynamoDB throttling, the Management
// API's LimitExceededException) are retried up to 8 attempts with backoff
// capped at 2 s, which a Lambda's short deadline can afford.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 8
		o.MaxBackoff = 2 * time.Second
	})
}

// LambdaConfig is the AWS configuration of a Lambda function: the region and
// the credentials Lambda puts in the environment, and Retryer. It does not
// use the SDK's default loader (profiles, SSO, IMDS, web identity), which a
// function never needs and which costs the bootstrap 1.8 MB and about 5 ms
// of cold start; chatapp serve uses that loader (internal/awsconfig). With
// an endpoint (DynamoDB Local under the runtime emulator) and no
// credentials in the environment it uses the fixed local ones.
func LambdaConfig(cc dynamodb.ClientConfig) aws.Config {
	cfg := aws.Config{
		Region:  cmp.Or(cc.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		Retryer: Retryer,
	}
	if key := os.Getenv("AWS_ACCESS_KEY_ID"); key != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
			key, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")))
	} else if cc.Endpoint != "" {
		cfg.Credentials = dynamodb.LocalCredentials
	}
	if cc.Endpoint != "" && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg
}
