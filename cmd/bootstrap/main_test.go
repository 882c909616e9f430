package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/awslambda"
)

func TestEveryHandlerNameStarts(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
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
