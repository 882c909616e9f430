package main

import (
	"context"
	"fmt"
	"io"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/awsconfig"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// store is what the in-process functions need of a store.
type store interface {
	chatapp.MessageStore
	chatapp.ConnectionStore
	chatapp.ConnectionLister // for the sweeper of stale connections
}

// openStore opens the embedded store or DynamoDB, as cfg.Store says.
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
	default:
		return nil, nil, fmt.Errorf("unknown store %q: want sqlite or dynamodb", cfg.Store)
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
