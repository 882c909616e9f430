package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// TTLAttribute is the attribute DynamoDB's TTL deletes rows by, on both tables.
const TTLAttribute = "expires_at"

// CreateTables creates the two tables when missing, waits until they are
// ACTIVE and enables TTL on both. It is for development and tests: on AWS the
// SAM template owns the tables. A table that exists with other keys (the
// original's messages table sorted by timestamp, or a connections table of
// an earlier chatapp, keyed by connection_id alone) is an error, not reused.
func (db *DB) CreateTables(ctx context.Context) error {
	for _, in := range []*ddb.CreateTableInput{db.messagesTableInput(), db.connectionsTableInput()} {
		if err := db.createTable(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) messagesTableInput() *ddb.CreateTableInput {
	return &ddb.CreateTableInput{
		TableName:            aws.String(db.cfg.MessagesTable),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: stringAttributes("room_id", "id"),
		KeySchema:            keySchema("room_id", "id"),
	}
}

func (db *DB) connectionsTableInput() *ddb.CreateTableInput {
	return &ddb.CreateTableInput{
		TableName:            aws.String(db.cfg.ConnectionsTable),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: stringAttributes("room_id", "connection_id"),
		// No index: a room's connections are its partition, read strongly
		// consistently (connection.go).
		KeySchema: keySchema("room_id", "connection_id"),
	}
}

func (db *DB) createTable(ctx context.Context, in *ddb.CreateTableInput) error {
	name := aws.ToString(in.TableName)
	var inUse *types.ResourceInUseException
	if _, err := db.client.CreateTable(ctx, in); err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	out, err := ddb.NewTableExistsWaiter(db.client, func(o *ddb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	}).WaitForOutput(ctx, &ddb.DescribeTableInput{TableName: in.TableName}, 5*time.Minute)
	if err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if got, want := keyString(out.Table.KeySchema), keyString(in.KeySchema); got != want {
		return fmt.Errorf("table %s has key %s, chatapp needs %s: delete it, or name another table", name, got, want)
	}
	_, err = db.client.UpdateTimeToLive(ctx, &ddb.UpdateTimeToLiveInput{
		TableName: in.TableName,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "already enabled") {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

func stringAttributes(names ...string) []types.AttributeDefinition {
	defs := make([]types.AttributeDefinition, len(names))
	for i, n := range names {
		defs[i] = types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	return defs
}

// keySchema is a partition key and an optional sort key.
func keySchema(partition, sort string) []types.KeySchemaElement {
	ks := []types.KeySchemaElement{{AttributeName: aws.String(partition), KeyType: types.KeyTypeHash}}
	if sort != "" {
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sort), KeyType: types.KeyTypeRange})
	}
	return ks
}

func keyString(ks []types.KeySchemaElement) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
