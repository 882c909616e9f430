package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/awsconfig"
	"github.com/chatapp-dev/chatapp/postgres"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// store is what the in-process functions need of a store.
type store interface {
	chatapp.MessageStore
	chatapp.ConnectionStore
	chatapp.ConnectionLister // for the sweeper of stale connections
}

// openStore opens the embedded store, DynamoDB or PostgreSQL, as
// cfg.Store says.
func openStore(ctx context.Context, cfg ServeConfig) (store, io.Closer, error) {
	switch cfg.Store {
	case "", "sqlite":
		db, err := sqlite.Open(ctx, cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		// No socket outlives the process that held it: rows left by a
		// previous run are stale.
		if err := db.DeleteAllConnections(ctx); err != nil {
			db.Close()
			return nil, nil, err
		}
		return db, db, nil
	case "dynamodb":
		client, err := awsconfig.NewDynamoDBClient(ctx, dynamodb.ClientConfig{Endpoint: cfg.DynamoDB.Endpoint})
		if err != nil {
			return nil, nil, err
		}
		db := dynamodb.New(client, dynamodb.Config{
			MessagesTable:    cfg.DynamoDB.MessagesTable,
			ConnectionsTable: cfg.DynamoDB.ConnectionsTable,
		})
		if cfg.DynamoDB.CreateTables {
			if err := db.CreateTables(ctx); err != nil {
				return nil, nil, fmt.Errorf("create tables: %w", err)
			}
		}
		return db, nopCloser{}, nil
	case "postgres":
		if cfg.PostgresURL == "" {
			return nil, nil, errors.New("--store postgres needs --postgres-url (or CHATAPP_POSTGRES_URL)")
		}
		// Rows left by a previous run are not deleted here, as SQLite's
		// are: other processes may share the database. The sweeper
		// removes those older than its grace.
		db, err := postgres.Open(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, nil, err
		}
		return db, db, nil
	default:
		return nil, nil, fmt.Errorf("unknown store %q: want sqlite, dynamodb or postgres", cfg.Store)
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
