package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatapp-dev/chatapp"
)

// The per-user connection cap. Counting a user's connections would need an
// index by user and could not be made atomic with the write, so each user
// has one more item in the connections table, its slots: the set of the
// user's connection ids. A capped CreateConnection adds the id to the set,
// on the condition that the set has room, in one transaction with the
// connection's row and record (connection.go); DeleteConnection removes it
// in the transaction that deletes them, which the record's in_slots tells
// to. (A record written before in_slots existed leaves its id behind, for
// the heal below.)
//
// The set is not the truth, the records are: $disconnect is best-effort on
// API Gateway and items die by TTL, so ids of dead sockets stay in the set.
// When the condition fails, the ids whose records are gone, expired, or now
// another user's are dropped, and the transaction is tried once more: a
// user is never locked out by sockets that no longer exist.
//
// The slots item has the partition userSlotsPrefix+user, which no room can
// take ("#" is in no room id), so no room listing meets it, nor any
// connection's record. It expires ConnectionTTL after its last add, when
// every connection it lists has expired too.

const (
	userSlotsPrefix = "#user#"
	slotsSortKey    = "#slots"
	slotsAttribute  = "connection_ids"
)

func userSlotsKey(userID string) map[string]types.AttributeValue {
	return tableKey(userSlotsPrefix+userID, slotsSortKey)
}

// createConnection writes a connection's row and record, items of c that
// expire at expires, and with a cap takes a slot of c's user: all or none,
// one transaction. The record's condition finds a connection of the same id
// stored in another room: the retry takes its record over and deletes its
// old row in the same transaction, on the condition that the record still
// names that room. A delete after the commit could fail with the record
// already naming the new room, and no later DeleteConnection would find the
// old row: its socket would get that room's messages until the TTL.
func (db *DB) createConnection(ctx context.Context, c *chatapp.Connection, row, record map[string]types.AttributeValue, expires int64, maxPerUser int) error {
	table := aws.String(db.cfg.ConnectionsTable)
	put := &types.Put{TableName: table, Item: record}
	stay := func() {
		put.ConditionExpression = aws.String("attribute_not_exists(connection_id) OR #in = :room")
		put.ExpressionAttributeNames = map[string]string{"#in": "in_room"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":room": &types.AttributeValueMemberS{Value: c.RoomID}}
	}
	stay()
	items := []types.TransactWriteItem{{Put: put}, {Put: &types.Put{TableName: table, Item: row}}}
	const slotsAt = 2 // the slots' update, with a cap; the old row's delete comes after it
	if maxPerUser > 0 {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:        table,
			Key:              userSlotsKey(c.UserID),
			UpdateExpression: aws.String("ADD #ids :id SET #exp = :exp"),
			// Storing a connection again under its id takes no new slot.
			ConditionExpression:      aws.String("attribute_not_exists(#ids) OR size(#ids) < :max OR contains(#ids, :idstr)"),
			ExpressionAttributeNames: map[string]string{"#ids": slotsAttribute, "#exp": TTLAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":id":    &types.AttributeValueMemberSS{Value: []string{c.ID}},
				":idstr": &types.AttributeValueMemberS{Value: c.ID},
				":max":   &types.AttributeValueMemberN{Value: strconv.Itoa(maxPerUser)},
				":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)},
			},
		}})
	}
	in := &ddb.TransactWriteItemsInput{TransactItems: items}
	pruned := false
	for attempt := 1; ; attempt++ {
		err := db.transact(ctx, in)
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			if err != nil {
				return fmt.Errorf("put connection: %w", err)
			}
			return nil
		}
		reasons := canceled.CancellationReasons
		failed := func(i int) bool { return len(reasons) > i && aws.ToString(reasons[i].Code) == "ConditionalCheckFailed" }
		switch {
		case failed(0):
			// The id is stored in another room: take its record over.
			if attempt >= maxSlotAttempts {
				return fmt.Errorf("put connection: the record of connection %s kept changing", c.ID)
			}
			old, err := db.record(ctx, c.ID)
			if err != nil {
				return err
			}
			stay()
			in.TransactItems = items
			if old != nil && old.InRoom != c.RoomID {
				put.ConditionExpression = aws.String("#in = :old")
				put.ExpressionAttributeValues = map[string]types.AttributeValue{":old": &types.AttributeValueMemberS{Value: old.InRoom}}
				in.TransactItems = append(slices.Clip(items), types.TransactWriteItem{Delete: &types.Delete{TableName: table, Key: tableKey(old.InRoom, c.ID)}})
			}
		case maxPerUser > 0 && failed(slotsAt):
			if pruned {
				return chatapp.TooManyConnections(c.UserID, maxPerUser)
			}
			n, err := db.pruneSlots(ctx, c.UserID)
			if err != nil {
				return err
			}
			if n == 0 {
				return chatapp.TooManyConnections(c.UserID, maxPerUser)
			}
			pruned = true
		case conflicted(reasons):
			// Another handshake of the user holds the slots.
			if err := retryConflict(ctx, attempt, maxSlotAttempts, "simultaneous connections of user "+c.UserID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("put connection: %w", err)
		}
	}
}

// slotsItem is a user's slots as stored.
type slotsItem struct {
	IDs []string `dynamodbav:"connection_ids,stringset"`
}

// pruneSlots drops from the user's slots the ids whose records are gone,
// expired, or another user's, and returns how many it dropped.
func (db *DB) pruneSlots(ctx context.Context, userID string) (int, error) {
	out, err := db.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(db.cfg.ConnectionsTable),
		Key:            userSlotsKey(userID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("get connection slots: %w", err)
	}
	var slots slotsItem
	if err := attributevalue.UnmarshalMap(out.Item, &slots); err != nil {
		return 0, fmt.Errorf("unmarshal connection slots: %w", err)
	}
	live, err := db.liveConnections(ctx, userID, slots.IDs)
	if err != nil {
		return 0, err
	}
	var stale []string
	for _, id := range slots.IDs {
		if !live[id] {
			stale = append(stale, id)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	if err := db.releaseSlots(ctx, userID, stale); err != nil {
		return 0, err
	}
	return len(stale), nil
}

// liveConnections reads the records of ids and returns those that exist,
// have not expired and belong to userID. A record DynamoDB left unread
// counts as live: only a connection known to be gone frees a slot.
func (db *DB) liveConnections(ctx context.Context, userID string, ids []string) (map[string]bool, error) {
	live := map[string]bool{}
	now := time.Now()
	table := db.cfg.ConnectionsTable
	for chunk := range slices.Chunk(ids, 100) { // BatchGetItem's most keys
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = recordKey(id)
		}
		out, err := db.client.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: keys, ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			return nil, fmt.Errorf("get connections: %w", err)
		}
		var records []connectionItem
		if err := attributevalue.UnmarshalListOfMaps(out.Responses[table], &records); err != nil {
			return nil, fmt.Errorf("unmarshal connections: %w", err)
		}
		for _, it := range records {
			if it.UserID == userID && !expired(it.ExpiresAt, now) {
				live[it.ID] = true
			}
		}
		for _, key := range out.UnprocessedKeys[table].Keys {
			if id, ok := key["connection_id"].(*types.AttributeValueMemberS); ok {
				live[id.Value] = true
			}
		}
	}
	return live, nil
}

// releaseSlots removes ids from the user's slots. It never creates the
// slots item.
func (db *DB) releaseSlots(ctx context.Context, userID string, ids []string) error {
	u := db.releaseUpdate(userID, ids)
	_, err := db.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
		ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
	})
	var missing *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("release connection slots: %w", err)
	}
	return nil
}

// releaseUpdate removes ids from the user's slots, on the condition that
// the slots item exists: an update of a missing item would create one,
// holding only its key and no expires_at, which TTL never removes.
func (db *DB) releaseUpdate(userID string, ids []string) *types.Update {
	return &types.Update{
		TableName:                 aws.String(db.cfg.ConnectionsTable),
		Key:                       userSlotsKey(userID),
		UpdateExpression:          aws.String("DELETE #ids :ids"),
		ConditionExpression:       aws.String("attribute_exists(connection_id)"),
		ExpressionAttributeNames:  map[string]string{"#ids": slotsAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: ids}},
	}
}
