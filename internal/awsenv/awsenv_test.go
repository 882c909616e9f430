package awsenv_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/awsenv"
)

// TestLambdaConfig: a function's AWS config comes from the variables Lambda
// sets; under the emulator with DynamoDB Local and no keys, from the local
// dummy key and a default region.
func TestLambdaConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDA")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "session")
	cfg := awsenv.LambdaConfig(dynamodb.ClientConfig{})
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKIDLAMBDA" || creds.SecretAccessKey != "secret" || creds.SessionToken != "session" {
		t.Errorf("Lambda environment: region %q, credentials %+v, %v", cfg.Region, creds, err)
	}
	if cfg.Retryer == nil || cfg.Retryer().MaxAttempts() != 8 {
		t.Error("the retryer is not chatapp's")
	}

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	cfg = awsenv.LambdaConfig(dynamodb.ClientConfig{Endpoint: "http://127.0.0.1:8000"})
	creds, err = cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "us-east-1" || creds.AccessKeyID != "local" {
		t.Errorf("local: region %q, credentials %+v, %v", cfg.Region, creds, err)
	}
}

// TestBootstrapHasNoLoader: the Lambda binary links neither the SDK's
// default loader nor internal/awsconfig, which imports it (0.4 MB more and
// the loader's init in every cold start).
func TestBootstrapHasNoLoader(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/chatapp-dev/chatapp/cmd/bootstrap").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/aws/aws-sdk-go-v2/config" || pkg == "github.com/chatapp-dev/chatapp/internal/awsconfig" {
			t.Errorf("cmd/bootstrap imports %s", pkg)
		}
	}
}
