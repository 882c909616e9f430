package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatapp-dev/chatapp/awslambda"
)

func TestEveryHandlerNameStarts(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("CHATAPP_AUTH_SECRET", "bootstrap-test-secret-0123456789abcdef")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range awslambda.Names() {
		fn, err := function(context.Background(), name, logger)
		if err != nil || fn == nil {
			t.Errorf("handler %s: %v", name, err)
		}
	}
}

func TestUnknownHandlerIsRefused(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	_, err := function(context.Background(), "chatapp-message-get", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), awslambda.GetMessages) {
		t.Fatalf("err = %v, want a refusal that lists the handler names", err)
	}
}

func TestBadRetentionIsRefused(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("CHATAPP_MESSAGE_RETENTION", "30d")
	if _, err := function(context.Background(), awslambda.GetMessages, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("a retention Go cannot parse was accepted")
	}
}

func TestAuthorizerNeedsAKey(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, secret := range map[string]string{"no secret": "", "short secret": "too-short"} {
		t.Setenv("CHATAPP_AUTH_SECRET", secret)
		if _, err := function(context.Background(), awslambda.Authorize, logger); err == nil {
			t.Errorf("%s: the authorizer started", name)
		}
	}
}

func TestBadRequireAuthIsRefused(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("CHATAPP_REQUIRE_AUTH", "yes please")
	if _, err := function(context.Background(), awslambda.Connect, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("a CHATAPP_REQUIRE_AUTH that is not a boolean was accepted")
	}
}

// Pushes sign with the local gateway's credentials when it hands them
// over; the configuration DynamoDB uses keeps its own.
func TestManagementConfigUsesHandedOverCredentials(t *testing.T) {
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("dynamo", "dynamo-secret", "")}
	if got := retrieve(t, managementConfig(base)); got.AccessKeyID != "dynamo" {
		t.Errorf("without CHATAPP_MANAGEMENT_ACCESS_KEY_ID: key %q, want the AWS one", got.AccessKeyID)
	}
	t.Setenv("CHATAPP_MANAGEMENT_ACCESS_KEY_ID", "AKIAGATEWAY")
	t.Setenv("CHATAPP_MANAGEMENT_SECRET_ACCESS_KEY", "gateway-secret")
	if got := retrieve(t, managementConfig(base)); got.AccessKeyID != "AKIAGATEWAY" || got.SecretAccessKey != "gateway-secret" {
		t.Errorf("management credentials = %q/%q, want the gateway's", got.AccessKeyID, got.SecretAccessKey)
	}
	if got := retrieve(t, base); got.AccessKeyID != "dynamo" {
		t.Errorf("the base configuration changed to key %q", got.AccessKeyID)
	}
}

func retrieve(t *testing.T, cfg aws.Config) aws.Credentials {
	t.Helper()
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func TestBadMaxConnectionsIsRefused(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	for _, v := range []string{"many", "-1"} {
		t.Setenv("CHATAPP_MAX_CONNECTIONS_PER_USER", v)
		if _, err := function(context.Background(), awslambda.Connect, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
			t.Errorf("CHATAPP_MAX_CONNECTIONS_PER_USER=%s was accepted", v)
		}
	}
}

// A function that takes the user_id a request names (template.yaml's
// AuthMode=open sets CHATAPP_REQUIRE_AUTH=false) says so in its log at cold
// start, once; with auth required it does not.
func TestOpenModeWarnsAtColdStart(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	for _, tc := range []struct {
		requireAuth string
		warns       bool
	}{{"false", true}, {"", true}, {"true", false}} {
		t.Setenv("CHATAPP_REQUIRE_AUTH", tc.requireAuth)
		for _, name := range []string{awslambda.PutMessage, awslambda.Connect} {
			var log strings.Builder
			if _, err := function(context.Background(), name, slog.New(slog.NewJSONHandler(&log, nil))); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := strings.Count(log.String(), "AUTHENTICATION IS OFF"); got != map[bool]int{true: 1, false: 0}[tc.warns] {
				t.Errorf("CHATAPP_REQUIRE_AUTH=%q %s: %d warnings in %q, want warned=%v", tc.requireAuth, name, got, log.String(), tc.warns)
			}
			if tc.warns && !strings.Contains(log.String(), `"level":"WARN"`) {
				t.Errorf("CHATAPP_REQUIRE_AUTH=%q %s: the warning is not at level WARN: %q", tc.requireAuth, name, log.String())
			}
		}
	}
}
