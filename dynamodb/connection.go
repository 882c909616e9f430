package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatapp-dev/chatapp"
)

// The connections table is keyed by (room_id, connection_id), and every
// connection is two items, written together:
//
//   - its row in its room, {room_id: R, connection_id: ID}: a room's rows
//     are one partition, which a Query reads strongly consistently
//     (FindConnectionsByRoom). A global secondary index cannot be read so
//     (AWS: "Strongly consistent reads are not supported on global
//     secondary indexes"), and a row missing from an eventually consistent
//     room listing is a client that misses a message: its $connect
//     returned, its catch-up read ran, and a message stored after that was
//     pushed to the room without it.
//   - its record by id, {room_id: "#connection#"+ID, connection_id: ID}, a
//     copy that names the room in in_room: the only key API Gateway's later
//     events give ($disconnect, sendmessage, a post's 410) is the id, and
//     GetItem on it is strongly consistent too.
//
// "#" is in no room id (chatapp.ValidateRoomID), so a room's partition
// never holds a record, nor a user's slots (slots.go). Every item carries
// expires_at, for TTL.
const connectionPrefix = "#connection#"

// connectionItem is a connection's row in its room, or its record by id.
type connectionItem struct {
	// Partition is the room of a row, connectionPrefix+ID for a record.
	Partition string `dynamodbav:"room_id"`
	ID        string `dynamodbav:"connection_id"`
	// InRoom is the room of a record; empty on a row.
	InRoom    string `dynamodbav:"in_room,omitempty"`
	UserID    string `dynamodbav:"user_id"`
	Name      string `dynamodbav:"name"`
	Timestamp int64  `dynamodbav:"timestamp"`
	Presence  bool   `dynamodbav:"presence"`
	ExpiresAt int64  `dynamodbav:"expires_at,omitempty"` // epoch seconds, for TTL
	// TokenExpiresAt is chatapp.Connection.ExpiresAt: when the socket's
	// token expires, epoch milliseconds.
	TokenExpiresAt int64 `dynamodbav:"token_expires_at,omitempty"`
}

// room is the connection's room, whether it is a row or a record.
func (it *connectionItem) room() string { return cmp.Or(it.InRoom, it.Partition) }

func (it *connectionItem) connection() *chatapp.Connection {
	return &chatapp.Connection{ID: it.ID, RoomID: it.room(), UserID: it.UserID, Name: it.Name, Timestamp: it.Timestamp, Presence: it.Presence, ExpiresAt: it.TokenExpiresAt}
}

// tableKey is the key of an item of the connections table.
func tableKey(partition, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"room_id":       &types.AttributeValueMemberS{Value: partition},
		"connection_id": &types.AttributeValueMemberS{Value: id},
	}
}

// recordKey is the key of a connection's record by id.
func recordKey(id string) map[string]types.AttributeValue {
	return tableKey(connectionPrefix+id, id)
}

// CreateConnection stores c, replacing a connection of the same id (and its
// row in another room). The items expire ConnectionTTL after they are
// written (the socket's start), not after c.Timestamp, which a caller may
// set to anything. The row, the record and, with a cap, the user's slot
// are one transaction (slots.go): $connect returns only once the row is
// where every later room listing reads it.
func (db *DB) CreateConnection(ctx context.Context, c *chatapp.Connection, maxPerUser int) error {
	expires := time.Now().Add(db.cfg.ConnectionTTL).Unix()
	row := connectionItem{
		Partition: c.RoomID, ID: c.ID, UserID: c.UserID, Name: c.Name, Timestamp: c.Timestamp, Presence: c.Presence,
		ExpiresAt: expires, TokenExpiresAt: c.ExpiresAt,
	}
	record := row
	record.Partition, record.InRoom = connectionPrefix+c.ID, c.RoomID
	rowItem, err := attributevalue.MarshalMap(row)
	if err != nil {
		return fmt.Errorf("marshal connection: %w", err)
	}
	recordItem, err := attributevalue.MarshalMap(record)
	if err != nil {
		return fmt.Errorf("marshal connection: %w", err)
	}
	return db.createConnection(ctx, c, rowItem, recordItem, expires, maxPerUser)
}

// DeleteConnection removes a connection's row, its record and its id from
// its user's slots, and returns the connection; removing a missing one
// succeeds, as the interface wants. The record is read first (it names the
// row's room), and the row goes first: should the record's delete fail,
// the record still names the row's room, and the next DeleteConnection
// finishes. The connection returned is the record as its own delete found
// it (ReturnValues ALL_OLD, which consumes no read capacity): of two
// deletes racing, only the one that removed the record returns it. A
// record past its TTL is removed but not returned, as FindConnection
// hides it.
func (db *DB) DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	it, err := db.record(ctx, id)
	if err != nil || it == nil {
		return nil, err
	}
	table := aws.String(db.cfg.ConnectionsTable)
	if it.InRoom != "" {
		if _, err := db.client.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: table, Key: tableKey(it.InRoom, id)}); err != nil {
			return nil, fmt.Errorf("delete connection: %w", err)
		}
	}
	out, err := db.client.DeleteItem(ctx, &ddb.DeleteItemInput{
		TableName: table, Key: recordKey(id), ReturnValues: types.ReturnValueAllOld,
		ConditionExpression: aws.String("attribute_exists(connection_id)"),
	})
	var taken *types.ConditionalCheckFailedException
	if errors.As(err, &taken) {
		return nil, nil // another delete took it
	} else if err != nil {
		return nil, fmt.Errorf("delete connection: %w", err)
	}
	// Best effort: an id left behind holds no slot for long, because the
	// next capped CreateConnection that finds the user full drops the ids
	// whose records are gone.
	_ = db.releaseSlots(ctx, it.UserID, []string{id})
	var gone connectionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &gone); err != nil {
		return nil, fmt.Errorf("unmarshal connection: %w", err)
	}
	if len(out.Attributes) == 0 || gone.InRoom == "" || expired(gone.ExpiresAt, time.Now()) {
		return nil, nil
	}
	return gone.connection(), nil
}

// record reads a connection's record by id, strongly consistently; nil
// when there is none. An expired record is returned: it still names the
// row to delete.
func (db *DB) record(ctx context.Context, id string) (*connectionItem, error) {
	out, err := db.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(db.cfg.ConnectionsTable),
		Key:            recordKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var it connectionItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal connection: %w", err)
	}
	return &it, nil
}

// FindConnection returns one connection, from its record by id, or
// ENOTFOUND when it is missing or expired.
func (db *DB) FindConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	it, err := db.record(ctx, id)
	if err != nil {
		return nil, err
	}
	if it == nil || it.InRoom == "" || expired(it.ExpiresAt, time.Now()) {
		return nil, chatapp.Errorf(chatapp.ENOTFOUND, "connection not found")
	}
	return it.connection(), nil
}

// FindConnectionsByRoom returns a room's connections, oldest first: a
// strongly consistent Query of the room's partition (never a Scan, nor an
// index), reading every page. It holds every connection whose
// CreateConnection returned before it began.
func (db *DB) FindConnectionsByRoom(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	in := &ddb.QueryInput{
		TableName:                 aws.String(db.cfg.ConnectionsTable),
		ConsistentRead:            aws.Bool(true),
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
	// The partition sorts by connection id; the contract is connection order.
	slices.SortFunc(conns, func(a, b *chatapp.Connection) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.ID, b.ID))
	})
	return conns, nil
}

var _ chatapp.ConnectionLister = (*DB)(nil)

// ListConnections returns every connection of the table that has not
// expired, reading every page of a Scan. No key lists all rooms (rows are
// keyed by room), so this reads the whole table: fine for the local
// gateway's sweeper, which alone calls it, on a table of local rows. On AWS
// nothing calls it: TTL removes the items of dead sockets. Only the rows
// in rooms are listed: records by id and users' slots (slots.go) live in
// partitions that begin with "#".
func (db *DB) ListConnections(ctx context.Context) ([]*chatapp.Connection, error) {
	in := &ddb.ScanInput{
		TableName:                 aws.String(db.cfg.ConnectionsTable),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("NOT begins_with(#room, :special)"),
		ExpressionAttributeNames:  map[string]string{"#room": "room_id"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":special": &types.AttributeValueMemberS{Value: "#"}},
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
