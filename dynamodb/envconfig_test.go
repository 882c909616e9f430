package dynamodb_test

import (
	"context"
	"testing"

	"github.com/chatapp-dev/chatapp/dynamodb"
)

// TestEnvConfig: a function's AWS config comes from the variables Lambda
// sets; under the emulator with DynamoDB Local and no keys, from the local
// dummy key and a default region.
func TestEnvConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDA")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "session")
	cfg := dynamodb.EnvConfig(dynamodb.ClientConfig{})
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKIDLAMBDA" || creds.SecretAccessKey != "secret" || creds.SessionToken != "session" {
		t.Errorf("Lambda environment: region %q, credentials %+v, %v", cfg.Region, creds, err)
	}
	if cfg.Retryer == nil || cfg.Retryer().MaxAttempts() != 8 {
		t.Error("the retryer is not chatapp's")
	}

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	cfg = dynamodb.EnvConfig(dynamodb.ClientConfig{Endpoint: "http://127.0.0.1:8000"})
	creds, err = cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "us-east-1" || creds.AccessKeyID != "local" {
		t.Errorf("local: region %q, credentials %+v, %v", cfg.Region, creds, err)
	}
}
