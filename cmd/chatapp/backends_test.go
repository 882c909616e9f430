package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/internal/dynamolocal"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// forEachBackend runs a client-level test against every way `chatapp serve`
// runs: the embedded store, DynamoDB (the real DynamoDB Local), PostgreSQL
// (a throwaway cluster), and the functions as real Lambda bootstrap
// processes under the runtime interface emulator on DynamoDB. The clients
// cannot tell them apart.
func forEachBackend(t *testing.T, test func(t *testing.T, cfg ServeConfig)) {
	t.Run("sqlite", func(t *testing.T) { test(t, ServeConfig{}) })
	t.Run("dynamodb", func(t *testing.T) { test(t, dynamoConfig(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, ServeConfig{Store: "postgres", PostgresURL: pglocal.Schema(t)}) })
	t.Run("lambda-rie", func(t *testing.T) {
		cfg := dynamoConfig(t)
		cfg.Functions = "rie"
		cfg.RIE = RIEConfig{Binary: rieBinary(t), Bootstrap: bootstrapBinary(t)}
		cfg.FunctionLogs = &testLogWriter{t: t}
		test(t, cfg)
	})
}

// dynamoConfig serves on DynamoDB Local, with tables of the test's own.
func dynamoConfig(t *testing.T) ServeConfig {
	endpoint := dynamolocal.Start(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	return ServeConfig{Store: "dynamodb", DynamoDB: DynamoDBConfig{
		Endpoint:         endpoint,
		MessagesTable:    "messages-" + id,
		ConnectionsTable: "userlist-" + id,
		CreateTables:     true,
	}}
}

// rieBinary finds aws-lambda-rie, which scripts/deps.sh installs.
func rieBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(repoRoot(t), ".cache", "bin", "aws-lambda-rie")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if path, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return path
	}
	component.Missing(t, "aws-lambda-rie is missing: run scripts/deps.sh (or make deps)")
	return ""
}

var bootstrap struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// bootstrapBinary builds cmd/bootstrap for this machine, once per test binary.
func bootstrapBinary(t *testing.T) string {
	t.Helper()
	bootstrap.once.Do(func() {
		if bootstrap.dir, bootstrap.err = os.MkdirTemp("", "chatapp-bootstrap-"); bootstrap.err != nil {
			return
		}
		path := filepath.Join(bootstrap.dir, "bootstrap")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := gobuild.Command(ctx, "-tags", "lambda.norpc", "-o", path, "../bootstrap")
		if out, err := cmd.CombinedOutput(); err != nil {
			bootstrap.err = fmt.Errorf("go build ../bootstrap: %v\n%s", err, out)
			return
		}
		bootstrap.path = path
	})
	if bootstrap.err != nil {
		t.Fatal(bootstrap.err)
	}
	return bootstrap.path
}

// repoRoot is the repository's folder (internal/reporoot).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := reporoot.Find()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
