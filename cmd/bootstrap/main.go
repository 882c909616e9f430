// Command bootstrap is the Lambda entry point of every chatapp function, for
// the provided.al2023 runtime. The function's Handler setting (the _HANDLER
// variable) picks which one runs; see awslambda.Names and template.yaml.
//
// Environment:
//
//	CHATAPP_MESSAGES_TABLE       messages table (default chatapp-chat-messages)
//	CHATAPP_CONNECTIONS_TABLE    connections table (default chatapp-userlist)
//	CHATAPP_MESSAGE_RETENTION    expire messages after this Go duration (default: keep)
//	CHATAPP_SEND_RATE, _BURST    sends a second per user in one instance (default: no limit)
//	CHATAPP_MAX_CONNECTIONS_PER_USER
//	                             open WebSockets per user, across every instance: the
//	                             connections table holds the count (default 20; 0: no limit)
//	CHATAPP_MANAGEMENT_ENDPOINT  push through this endpoint (a custom domain, the
//	                             local gateway); default: the event's API and stage
//	CHATAPP_MANAGEMENT_ACCESS_KEY_ID, _SECRET_ACCESS_KEY
//	                             sign pushes with these instead of the function's
//	                             AWS credentials (the local gateway's; DynamoDB
//	                             keeps the AWS ones)
//	CHATAPP_REQUIRE_AUTH         true: the caller is the authorizer's identity, not
//	                             the user_id a request names (see handler.Handler)
//	CHATAPP_AUTH_SECRET          the authorizer's HS256 secret, or
//	CHATAPP_AUTH_JWKS_URL        the JWKS of the identity provider it trusts, with
//	CHATAPP_AUTH_ISSUER          the iss and
//	CHATAPP_AUTH_AUDIENCE        aud the tokens must carry (optional)
//
// and the usual AWS variables (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, ...).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/internal/awsenv"
	"github.com/chatapp-dev/chatapp/ratelimit"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	fn, err := function(context.Background(), os.Getenv("_HANDLER"), logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(fn)
}

// function builds the handler named by name from the environment.
func function(ctx context.Context, name string, logger *slog.Logger) (any, error) {
	if name == awslambda.Authorize {
		// The authorizer only checks tokens: no store, no AWS calls.
		return authorizer(ctx, logger)
	}
	// AWS_ENDPOINT_URL_DYNAMODB points the store at DynamoDB Local when the
	// function runs under the runtime interface emulator.
	dynamoEndpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	// The region and credentials Lambda sets; not the SDK's default loader.
	awsConfig := awsenv.LambdaConfig(dynamodb.ClientConfig{Endpoint: dynamoEndpoint})
	var err error
	cfg := dynamodb.Config{
		MessagesTable:    envOr("CHATAPP_MESSAGES_TABLE", dynamodb.DefaultMessagesTable),
		ConnectionsTable: envOr("CHATAPP_CONNECTIONS_TABLE", dynamodb.DefaultConnectionsTable),
	}
	if s := os.Getenv("CHATAPP_MESSAGE_RETENTION"); s != "" && s != "0" && s != "0h" {
		if cfg.MessageRetention, err = time.ParseDuration(s); err != nil {
			return nil, fmt.Errorf("CHATAPP_MESSAGE_RETENTION: %w", err)
		}
	}
	db := dynamodb.New(dynamodb.Client(awsConfig, dynamoEndpoint), cfg)
	endpoint := os.Getenv("CHATAPP_MANAGEMENT_ENDPOINT")
	h := &handler.Handler{
		Messages:    db,
		Connections: db,
		Notifier:    &apigw.Notifier{Connections: db, AWS: managementConfig(awsConfig), Endpoint: endpoint, Logger: logger},
		Logger:      logger,
	}
	if h.SendLimiter, err = sendLimiter(); err != nil {
		return nil, err
	}
	if h.MaxConnectionsPerUser, err = strconv.Atoi(envOr("CHATAPP_MAX_CONNECTIONS_PER_USER", strconv.Itoa(defaultMaxConnectionsPerUser))); err != nil || h.MaxConnectionsPerUser < 0 {
		return nil, fmt.Errorf("CHATAPP_MAX_CONNECTIONS_PER_USER %q is not a count", os.Getenv("CHATAPP_MAX_CONNECTIONS_PER_USER"))
	}
	if s := os.Getenv("CHATAPP_REQUIRE_AUTH"); s != "" {
		if h.RequireAuth, err = strconv.ParseBool(s); err != nil {
			return nil, fmt.Errorf("CHATAPP_REQUIRE_AUTH: %w", err)
		}
	}
	if !h.RequireAuth {
		// Once per cold start, in every function's log: a stack deployed
		// with AuthMode=open must not go unnoticed.
		logger.Warn(authOffWarning, "function", name)
	}
	fn, ok := awslambda.Handlers(h, endpoint != "").Handler(name)
	if !ok {
		return nil, fmt.Errorf("unknown handler %q: want one of %s", name, strings.Join(awslambda.Names(), ", "))
	}
	return fn, nil
}

// authOffWarning is logged at cold start by every function that takes the
// user_id a request names (CHATAPP_REQUIRE_AUTH not true: template.yaml's
// AuthMode=open, or chatapp serve without auth).
const authOffWarning = "AUTHENTICATION IS OFF: any client may read every room and send as any user_id (CHATAPP_REQUIRE_AUTH is not true; on AWS, AuthMode=open); deploy without AuthMode=open before real users"

// defaultMaxConnectionsPerUser is chatapp serve's default too: one user's
// tabs and devices, far below what would make every send to a room post to
// thousands of one token's sockets.
const defaultMaxConnectionsPerUser = 20

// sendLimiter bounds each user's sends within this instance, from
// CHATAPP_SEND_RATE (a second) and CHATAPP_SEND_BURST. A Lambda instance
// runs one invocation at a time, so across instances the bound is the stage's
// throttling (template.yaml), not this.
func sendLimiter() (chatapp.RateLimiter, error) {
	s := os.Getenv("CHATAPP_SEND_RATE")
	if s == "" || s == "0" {
		return nil, nil
	}
	perSecond, err := strconv.ParseFloat(s, 64)
	if err != nil || perSecond < 0 {
		return nil, fmt.Errorf("CHATAPP_SEND_RATE %q is not a rate", s)
	}
	burst, err := strconv.Atoi(envOr("CHATAPP_SEND_BURST", "1"))
	if err != nil {
		return nil, fmt.Errorf("CHATAPP_SEND_BURST: %w", err)
	}
	return ratelimit.New(perSecond, burst), nil
}

// authorizer is the REQUEST authorizer, trusting the key the environment
// names. Without one it does not start: a misconfigured stack refuses
// everyone instead of trusting anyone.
func authorizer(ctx context.Context, logger *slog.Logger) (any, error) {
	cfg := auth.Config{
		Secret:   []byte(os.Getenv("CHATAPP_AUTH_SECRET")),
		JWKSURL:  os.Getenv("CHATAPP_AUTH_JWKS_URL"),
		Issuer:   os.Getenv("CHATAPP_AUTH_ISSUER"),
		Audience: os.Getenv("CHATAPP_AUTH_AUDIENCE"),
	}
	if cfg.JWKSURL != "" {
		cfg.Secret = nil // the JWKS wins over a placeholder secret
	}
	v, err := auth.NewVerifier(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: set CHATAPP_AUTH_SECRET or CHATAPP_AUTH_JWKS_URL: %w", awslambda.Authorize, err)
	}
	h := &handler.Handler{Tokens: v, Logger: logger}
	return awslambda.Handlers(h, true).Authorizer, nil
}

// managementConfig is the SDK configuration of pushes: awsConfig, with the
// credentials the local gateway handed over when it runs this function.
func managementConfig(awsConfig aws.Config) aws.Config {
	if key := os.Getenv("CHATAPP_MANAGEMENT_ACCESS_KEY_ID"); key != "" {
		awsConfig.Credentials = credentials.NewStaticCredentialsProvider(key, os.Getenv("CHATAPP_MANAGEMENT_SECRET_ACCESS_KEY"), "")
	}
	return awsConfig
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
