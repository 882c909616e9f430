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

// The per-user connection cap. Counting a user's rows would need an index by
// user and could not be made atomic with the Put, so each user has one more
// item in the connections table, its slots: the set of the user's
// connection ids. A capped CreateConnection adds the id to the set, on the
// condition that the set has room, in one transaction with the row's Put;
// DeleteConnection removes it.
//
// The set is not the truth, the rows are: $disconnect is best-effort on
// API Gateway and rows die by TTL, so ids of dead sockets stay in the set.
// When the condition fails, the ids whose rows are gone, expired, or now
// another user's are dropped, and the transaction is tried once more: a
// user is never locked out by sockets that no longer exist.
//
// The slots item has the key userSlotsPrefix+user, which no API Gateway
// connection id can take ("#" is not in their alphabet), and no room_id, so
// the room index never holds it; FindConnection and ListConnections skip
// it. It expires ConnectionTTL after its last add, when every row it lists
// has expired too.

const (
	userSlotsPrefix = "#user#"
	slotsAttribute  = "connection_ids"
)

func userSlotsKey(userID string) map[string]types.AttributeValue {
	return connectionKey(userSlotsPrefix + userID)
}

// createCapped puts the connection row item of c, which expires at expires,
// and takes a slot of c's user, both or neither.
func (db *DB) createCapped(ctx context.Context, c *chatapp.Connection, item map[string]types.AttributeValue, expires int64, maxPerUser int) error {
	table := aws.String(db.cfg.ConnectionsTable)
	in := &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:        table,
			Key:              userSlotsKey(c.UserID),
			UpdateExpression: aws.String("ADD #ids :id SET #exp = :exp"),
			// Storing a row again under its id takes no new slot.
			ConditionExpression:      aws.String("attribute_not_exists(#ids) OR size(#ids) < :max OR contains(#ids, :idstr)"),
			ExpressionAttributeNames: map[string]string{"#ids": slotsAttribute, "#exp": TTLAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":id":    &types.AttributeValueMemberSS{Value: []string{c.ID}},
				":idstr": &types.AttributeValueMemberS{Value: c.ID},
				":max":   &types.AttributeValueMemberN{Value: strconv.Itoa(maxPerUser)},
				":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)},
			},
		}},
		{Put: &types.Put{TableName: table, Item: item}},
	}}
	pruned := false
	for attempt := 1; ; attempt++ {
		_, err := db.client.TransactWriteItems(ctx, in)
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			if err != nil {
				return fmt.Errorf("put connection: %w", err)
			}
			return nil
		}
		reasons := canceled.CancellationReasons
		switch {
		case len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed":
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

// pruneSlots drops from the user's slots the ids whose rows are gone,
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

// liveConnections reads the rows of ids and returns those that exist, have
// not expired and belong to userID. A row DynamoDB left unread counts as
// live: only a row known to be gone frees a slot.
func (db *DB) liveConnections(ctx context.Context, userID string, ids []string) (map[string]bool, error) {
	live := map[string]bool{}
	now := time.Now()
	table := db.cfg.ConnectionsTable
	for chunk := range slices.Chunk(ids, 100) { // BatchGetItem's most keys
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = connectionKey(id)
		}
		out, err := db.client.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: keys, ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			return nil, fmt.Errorf("get connections: %w", err)
		}
		var rows []connectionItem
		if err := attributevalue.UnmarshalListOfMaps(out.Responses[table], &rows); err != nil {
			return nil, fmt.Errorf("unmarshal connections: %w", err)
		}
		for _, it := range rows {
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
	_, err := db.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                 aws.String(db.cfg.ConnectionsTable),
		Key:                       userSlotsKey(userID),
		UpdateExpression:          aws.String("DELETE #ids :ids"),
		ConditionExpression:       aws.String("attribute_exists(connection_id)"),
		ExpressionAttributeNames:  map[string]string{"#ids": slotsAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: ids}},
	})
	var missing *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("release connection slots: %w", err)
	}
	return nil
}
