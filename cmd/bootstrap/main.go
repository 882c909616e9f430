// Command bootstrap is the Lambda entry point of every chatapp function, for
// the provided.al2023 runtime. The function's Handler setting (the _HANDLER
// variable) picks which one runs; see awslambda.Names and template.yaml.
//
// Environment:
//
//	CHATAPP_MESSAGES_TABLE       messages table (default chatapp-chat-messages)
//	CHATAPP_CONNECTIONS_TABLE    connections table (default chatapp-userlist)
//	CHATAPP_MESSAGE_RETENTION    expire messages after this Go duration (default: keep)
//	CHATAPP_MANAGEMENT_ENDPOINT  push through this endpoint (a custom domain, the
//	                             local gateway); default: the event's API and stage
//
// and the usual AWS variables (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, ...).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/handler"
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
	// AWS_ENDPOINT_URL_DYNAMODB points the store at DynamoDB Local when the
	// function runs under the runtime interface emulator.
	dynamoEndpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	awsConfig, err := dynamodb.LoadConfig(ctx, dynamodb.ClientConfig{Endpoint: dynamoEndpoint})
	if err != nil {
		return nil, err
	}
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
		Notifier:    &apigw.Notifier{Connections: db, AWS: awsConfig, Endpoint: endpoint, Logger: logger},
		Logger:      logger,
	}
	fn, ok := awslambda.Handlers(h, endpoint != "")[name]
	if !ok {
		return nil, fmt.Errorf("unknown handler %q: want one of %s", name, strings.Join(awslambda.Names(), ", "))
	}
	return fn, nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
