// Package awsconfig loads the AWS configuration of chatapp serve and the
// tests with the SDK's default loader (environment, profiles, SSO, roles),
// and chatapp's retryer (awsenv.Retryer). The Lambda functions use
// awsenv.LambdaConfig instead, so that the loader stays out of the bootstrap.
package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/awsenv"
)

// Load loads the AWS configuration from the usual environment, with
// awsenv.Retryer for every client made from it. With an endpoint
// (DynamoDB Local) and no credentials in the environment, it uses
// dynamodb.LocalCredentials and, without a region, us-east-1.
func Load(ctx context.Context, cc dynamodb.ClientConfig) (aws.Config, error) {
	local := cc.Endpoint != ""
	opts := []func(*config.LoadOptions) error{config.WithRetryer(awsenv.Retryer)}
	if cc.Region != "" {
		opts = append(opts, config.WithRegion(cc.Region))
	}
	if local && !credentialsInEnv() {
		opts = append(opts, config.WithCredentialsProvider(dynamodb.LocalCredentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if local && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// NewDynamoDBClient returns a DynamoDB client configured by Load.
func NewDynamoDBClient(ctx context.Context, cc dynamodb.ClientConfig) (*ddb.Client, error) {
	cfg, err := Load(ctx, cc)
	if err != nil {
		return nil, err
	}
	return dynamodb.Client(cfg, cc.Endpoint), nil
}

// credentialsInEnv tells whether the environment names credentials, which
// then win over the dummy ones, even locally.
func credentialsInEnv() bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}
