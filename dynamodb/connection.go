package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
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
	// InSlots is set on a record whose id a capped CreateConnection put in
	// its user's slots (slots.go), for its delete to take it out; false
	// on a row.
	InSlots bool `dynamodbav:"in_slots,omitempty"`
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
	record.Partition, record.InRoom, record.InSlots = connectionPrefix+c.ID, c.RoomID, maxPerUser > 0
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
// its user's slots, all or none: one transaction. It returns the
// connection; removing a missing one succeeds, as the interface wants.
// Separate writes could stop halfway (a function's timeout, a crash, a
// store that stalls): a record left without its row is a connection that
// no one finds again, since the sweep and a post's 410 find connections
// through their rows; its leave is never announced, and its id holds its
// user's slot until the TTL. A transaction that fails leaves the row in
// its room, where the next delete (a 410's, the sweep's) finds it and does
// it all. One that commits after its caller stopped waiting (a context
// that ended with the call in flight) removes the connection whole but
// returns it to no one, so that leave goes unannounced: no delete can tell
// a caller that is gone.
//
// The record is read first, strongly consistently: it names the row's room
// and whether the id is in its user's slots. The transaction deletes it on
// the condition that it is still as read (recordAsRead), so of deletes
// racing only the one that commits returns the connection. When the
// condition fails, DynamoDB returns the record as it now is
// (ReturnValuesOnConditionCheckFailure, no read capacity): none means that
// another delete won; one stored anew meanwhile (maybe in another room) is
// deleted as it now is. A record past its TTL is removed but not
// returned, as FindConnection hides it.
func (db *DB) DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	raw, err := db.rawRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	release := true // the user's slots item is there to release the id from
	for attempt := 1; ; attempt++ {
		if len(raw) == 0 {
			return nil, nil // no such connection, or another delete took it
		}
		var it connectionItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return nil, fmt.Errorf("unmarshal connection: %w", err)
		}
		items := db.deleteItems(raw, &it, release)
		err := db.transact(ctx, &ddb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			if it.InRoom == "" || expired(it.ExpiresAt, time.Now()) {
				return nil, nil
			}
			return it.connection(), nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			return nil, fmt.Errorf("delete connection: %w", err)
		}
		reasons := canceled.CancellationReasons
		failed := func(i int) bool { return len(reasons) > i && aws.ToString(reasons[i].Code) == "ConditionalCheckFailed" }
		switch last := len(items) - 1; {
		case failed(0):
			if attempt >= maxSlotAttempts {
				return nil, fmt.Errorf("delete connection: the record of connection %s kept changing", id)
			}
			raw = reasons[0].Item
		case it.InSlots && release && failed(last):
			// The slots item is gone (its TTL passed): nothing to release.
			release = false
		case conflicted(reasons):
			if err := retryConflict(ctx, attempt, maxSlotAttempts, "simultaneous deletes of connection "+id); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("delete connection: %w", err)
		}
	}
}

// deleteItems is DeleteConnection's transaction for the record raw (it,
// unmarshaled): the record's delete first, on the condition that it is as
// read; the row's, when the record names a room; and, when the id is in
// its user's slots and release is set, its release from them last.
func (db *DB) deleteItems(raw map[string]types.AttributeValue, it *connectionItem, release bool) []types.TransactWriteItem {
	table := aws.String(db.cfg.ConnectionsTable)
	cond, names, values := recordAsRead(raw)
	items := []types.TransactWriteItem{{Delete: &types.Delete{
		TableName: table, Key: recordKey(it.ID),
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	if it.InRoom != "" {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: table, Key: tableKey(it.InRoom, it.ID)}})
	}
	if it.InSlots && release {
		items = append(items, types.TransactWriteItem{Update: db.releaseUpdate(it.UserID, []string{it.ID})})
	}
	return items
}

// recordAsRead is a condition that holds while an item has every attribute
// it had when read (raw), with the same value: the record that a delete's
// row, slot and returned connection were taken from. A record written
// since (CreateConnection replaces it whole, with an expires_at from the
// clock) fails it unless it equals the one read in every attribute that
// one had.
func recordAsRead(raw map[string]types.AttributeValue) (*string, map[string]string, map[string]types.AttributeValue) {
	names := make(map[string]string, len(raw))
	values := make(map[string]types.AttributeValue, len(raw))
	terms := make([]string, 0, len(raw))
	for i, attr := range slices.Sorted(maps.Keys(raw)) {
		n := strconv.Itoa(i)
		names["#a"+n], values[":a"+n] = attr, raw[attr]
		terms = append(terms, "#a"+n+" = :a"+n)
	}
	return aws.String(strings.Join(terms, " AND ")), names, values
}

// record reads a connection's record by id, strongly consistently; nil
// when there is none. An expired record is returned: it still names the
// row to delete.
func (db *DB) record(ctx context.Context, id string) (*connectionItem, error) {
	raw, err := db.rawRecord(ctx, id)
	if err != nil || raw == nil {
		return nil, err
	}
	var it connectionItem
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return nil, fmt.Errorf("unmarshal connection: %w", err)
	}
	return &it, nil
}

// rawRecord is record as DynamoDB returns it.
func (db *DB) rawRecord(ctx context.Context, id string) (map[string]types.AttributeValue, error) {
	out, err := db.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(db.cfg.ConnectionsTable),
		Key:            recordKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	return out.Item, nil
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
