package dynamodb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatapp-dev/chatapp"
)

// connectionItem is a row of the original's "userlist" table, keyed by
// connection_id and indexed by room through ConnectionsByRoomIndex.
type connectionItem struct {
	ID        string `dynamodbav:"connection_id"`
	RoomID    string `dynamodbav:"room_id"`
	UserID    string `dynamodbav:"user_id"`
	Name      string `dynamodbav:"name"`
	Timestamp int64  `dynamodbav:"timestamp"`
	Presence  bool   `dynamodbav:"presence"`
	ExpiresAt int64  `dynamodbav:"expires_at,omitempty"` // epoch seconds, for TTL
	// TokenExpiresAt is chatapp.Connection.ExpiresAt: when the socket's
	// token expires, epoch milliseconds.
	TokenExpiresAt int64 `dynamodbav:"token_expires_at,omitempty"`
}

func (it *connectionItem) connection() *chatapp.Connection {
	return &chatapp.Connection{ID: it.ID, RoomID: it.RoomID, UserID: it.UserID, Name: it.Name, Timestamp: it.Timestamp, Presence: it.Presence, ExpiresAt: it.TokenExpiresAt}
}

func connectionKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"connection_id": &types.AttributeValueMemberS{Value: id}}
}

// CreateConnection stores c, replacing a row of the same id. The row expires
// ConnectionTTL after it is written (the socket's start), not after
// c.Timestamp, which a caller may set to anything. With a cap, the row's Put
// and the user's slot are one transaction (slots.go).
func (db *DB) CreateConnection(ctx context.Context, c *chatapp.Connection, maxPerUser int) error {
	expires := time.Now().Add(db.cfg.ConnectionTTL).Unix()
	item, err := attributevalue.MarshalMap(connectionItem{
		ID: c.ID, RoomID: c.RoomID, UserID: c.UserID, Name: c.Name, Timestamp: c.Timestamp, Presence: c.Presence,
		ExpiresAt: expires, TokenExpiresAt: c.ExpiresAt,
	})
	if err != nil {
		return fmt.Errorf("marshal connection: %w", err)
	}
	if maxPerUser > 0 {
		return db.createCapped(ctx, c, item, expires, maxPerUser)
	}
	_, err = db.client.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(db.cfg.ConnectionsTable), Item: item})
	if err != nil {
		return fmt.Errorf("put connection: %w", err)
	}
	return nil
}

// DeleteConnection removes a connection, and its id from its user's slots;
// DynamoDB's delete of a missing item succeeds, as the interface wants.
func (db *DB) DeleteConnection(ctx context.Context, id string) error {
	out, err := db.client.DeleteItem(ctx, &ddb.DeleteItemInput{
		TableName:    aws.String(db.cfg.ConnectionsTable),
		Key:          connectionKey(id),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	if user, ok := out.Attributes["user_id"].(*types.AttributeValueMemberS); ok {
		// Best effort: an id left behind holds no slot for long, because
		// the next capped CreateConnection that finds the user full drops
		// the ids whose rows are gone.
		_ = db.releaseSlots(ctx, user.Value, []string{id})
	}
	return nil
}

// FindConnection returns one connection, or ENOTFOUND when it is missing or
// expired.
func (db *DB) FindConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	out, err := db.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(db.cfg.ConnectionsTable),
		Key:            connectionKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	var it connectionItem
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
			return nil, fmt.Errorf("unmarshal connection: %w", err)
		}
	}
	if out.Item == nil || it.RoomID == "" || expired(it.ExpiresAt, time.Now()) {
		// A user's slots (slots.go) are no connection.
		return nil, chatapp.Errorf(chatapp.ENOTFOUND, "connection not found")
	}
	return it.connection(), nil
}

// FindConnectionsByRoom returns a room's connections, oldest first, from the
// room index (never a Scan), reading every page. A global index cannot be
// read consistently: on AWS a connection made a moment ago may be missing.
func (db *DB) FindConnectionsByRoom(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	in := &ddb.QueryInput{
		TableName:                 aws.String(db.cfg.ConnectionsTable),
		IndexName:                 aws.String(ConnectionsByRoomIndex),
		KeyConditionExpression:    aws.String("room_id = :room"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": &types.AttributeValueMemberS{Value: roomID}},
	}
	if db.cfg.QueryPageSize > 0 {
		in.Limit = aws.Int32(db.cfg.QueryPageSize)
	}
	conns, err := readConnections(func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		in.ExclusiveStartKey = start
		out, err := db.client.Query(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("query connections: %w", err)
		}
		return out.Items, out.LastEvaluatedKey, nil
	})
	if err != nil {
		return nil, err
	}
	// The index sorts by user; the contract is connection order.
	slices.SortFunc(conns, func(a, b *chatapp.Connection) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.ID, b.ID))
	})
	return conns, nil
}

var _ chatapp.ConnectionLister = (*DB)(nil)

// ListConnections returns every connection of the table that has not
// expired, reading every page of a Scan. No key or index lists all rooms
// (the room index is keyed by room), so this reads the whole table: fine
// for the local gateway's sweeper, which alone calls it, on a table of
// local rows. On AWS nothing calls it: TTL removes the rows of dead sockets.
// The users' slots (slots.go) have no room and are left out.
func (db *DB) ListConnections(ctx context.Context) ([]*chatapp.Connection, error) {
	in := &ddb.ScanInput{
		TableName:                aws.String(db.cfg.ConnectionsTable),
		ConsistentRead:           aws.Bool(true),
		FilterExpression:         aws.String("attribute_exists(#room)"),
		ExpressionAttributeNames: map[string]string{"#room": "room_id"},
	}
	if db.cfg.QueryPageSize > 0 {
		in.Limit = aws.Int32(db.cfg.QueryPageSize)
	}
	return readConnections(func(start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		in.ExclusiveStartKey = start
		out, err := db.client.Scan(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("scan connections: %w", err)
		}
		return out.Items, out.LastEvaluatedKey, nil
	})
}

// readConnections reads every page that page returns, from the first (a nil
// start key) until one has no LastEvaluatedKey, keeping the rows that have
// not expired.
func readConnections(page func(start map[string]types.AttributeValue) (items []map[string]types.AttributeValue, last map[string]types.AttributeValue, err error)) ([]*chatapp.Connection, error) {
	now := time.Now()
	conns := []*chatapp.Connection{}
	var start map[string]types.AttributeValue
	for {
		raw, last, err := page(start)
		if err != nil {
			return nil, err
		}
		var items []connectionItem
		if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
			return nil, fmt.Errorf("unmarshal connections: %w", err)
		}
		for i := range items {
			if !expired(items[i].ExpiresAt, now) {
				conns = append(conns, items[i].connection())
			}
		}
		if len(last) == 0 {
			return conns, nil
		}
		start = last
	}
}
