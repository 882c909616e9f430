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

// messageItem is a row of the messages table: partition room_id, sort id.
// The original sorted by timestamp, so two messages in one millisecond had
// the same key and the second overwrote the first; the ULID cannot collide.
type messageItem struct {
	RoomID    string `dynamodbav:"room_id"`
	ID        string `dynamodbav:"id"`
	Timestamp int64  `dynamodbav:"timestamp"`
	Text      string `dynamodbav:"message"`
	UserID    string `dynamodbav:"user_id"`
	Name      string `dynamodbav:"name"`
	ExpiresAt int64  `dynamodbav:"expires_at,omitempty"` // epoch seconds, for TTL
}

// QueueMessage is CreateMessage: DynamoDB has no group commit, so m is
// committed before it returns, and its wait returns the outcome at once.
func (db *DB) QueueMessage(ctx context.Context, m *chatapp.Message) (wait func() error, err error) {
	return chatapp.Committed(db.CreateMessage(ctx, m)), nil
}

// CreateMessage stores m, assigning its id and timestamp when empty. The
// write is conditional, so an existing message is never overwritten.
//
// Unlike SQLite, concurrent writers (several Lambdas) may commit ids out of
// id order, so an After page read at that instant can miss a message whose
// id is older than the cursor.
func (db *DB) CreateMessage(ctx context.Context, m *chatapp.Message) error {
	m.AssignID()
	it := messageItem{RoomID: m.RoomID, ID: m.ID, Timestamp: m.Timestamp, Text: m.Text, UserID: m.UserID, Name: m.Name}
	if db.cfg.MessageRetention > 0 {
		// Retention counts from the message's own time, so that it holds for
		// messages stored with an earlier timestamp too.
		it.ExpiresAt = time.UnixMilli(m.Timestamp).Add(db.cfg.MessageRetention).Unix()
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("marshal message: %w", err)
	}
	put := &types.Put{
		TableName:                aws.String(db.cfg.MessagesTable),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": "id"},
	}
	if m.IdempotencyKey != "" {
		return db.createIdempotent(ctx, m, put, it.ExpiresAt)
	}
	_, err = db.client.PutItem(ctx, &ddb.PutItemInput{
		TableName:                put.TableName,
		Item:                     put.Item,
		ConditionExpression:      put.ConditionExpression,
		ExpressionAttributeNames: put.ExpressionAttributeNames,
	})
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) {
		return chatapp.Errorf(chatapp.ECONFLICT, "message %s already exists", m.ID)
	}
	if err != nil {
		return fmt.Errorf("put message: %w", err)
	}
	return nil
}

// IdempotencyWindow is how long an idempotency key is remembered.
const IdempotencyWindow = 24 * time.Hour

// idempotencyItem records a used key in the messages table, under a
// partition no room can have ("#" is not allowed in room ids), so that room
// queries never meet it.
type idempotencyItem struct {
	Partition string `dynamodbav:"room_id"`
	Key       string `dynamodbav:"id"`
	MessageID string `dynamodbav:"message_id"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

func idempotencyPartition(roomID, userID string) string { return "#idem#" + roomID + "#" + userID }

// createIdempotent writes the message and its key record in one
// transaction: both or neither. A used key gives the stored message, or
// ECONFLICT for another text (chatapp.Replay).
//
// A record must not outlive its message, or every replay would find a key
// without a message: it expires with the message when messages are kept
// for less than the window. DynamoDB deletes expired items lazily, so a
// record past its expires_at is free to take. A record whose message is
// gone all the same (deleted) is taken over: m is stored anew under the
// key, in one transaction, as if first sent.
func (db *DB) createIdempotent(ctx context.Context, m *chatapp.Message, put *types.Put, messageExpires int64) error {
	now := time.Now()
	expires := now.Add(IdempotencyWindow).Unix()
	if messageExpires > 0 && messageExpires < expires {
		expires = messageExpires
	}
	record, err := attributevalue.MarshalMap(idempotencyItem{
		Partition: idempotencyPartition(m.RoomID, m.UserID),
		Key:       m.IdempotencyKey,
		MessageID: m.ID,
		ExpiresAt: expires,
	})
	if err != nil {
		return fmt.Errorf("marshal idempotency key: %w", err)
	}
	claim := &types.Put{TableName: aws.String(db.cfg.MessagesTable), Item: record}
	claimFree := func() {
		claim.ConditionExpression = aws.String("attribute_not_exists(#id) OR #exp <= :now")
		claim.ExpressionAttributeNames = map[string]string{"#id": "id", "#exp": TTLAttribute}
		claim.ExpressionAttributeValues = map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}}
	}
	claimFree()
	in := &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Put: claim}, {Put: put}}}
	// Two attempts of one send racing each other conflict
	// (TransactionConflict); the loser tries again and then finds the key.
	for attempt := 1; ; attempt++ {
		err = db.transact(ctx, in)
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			if err != nil {
				return fmt.Errorf("put message: %w", err)
			}
			return nil
		}
		reasons := canceled.CancellationReasons
		switch {
		case len(reasons) == 2 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed":
			stored, recorded, err := db.storedMessage(ctx, m, now)
			switch {
			case err != nil:
				return err
			case stored != nil:
				return chatapp.Replay(m, stored)
			case attempt >= maxMessageAttempts:
				return fmt.Errorf("put message: the record of idempotency key %s kept changing", m.IdempotencyKey)
			case recorded == "":
				claimFree() // the record went away meanwhile
			default:
				// Take the record over while it still names the gone message.
				claim.ConditionExpression = aws.String("#mid = :gone")
				claim.ExpressionAttributeNames = map[string]string{"#mid": "message_id"}
				claim.ExpressionAttributeValues = map[string]types.AttributeValue{":gone": &types.AttributeValueMemberS{Value: recorded}}
			}
			continue
		case len(reasons) == 2 && aws.ToString(reasons[1].Code) == "ConditionalCheckFailed":
			return chatapp.Errorf(chatapp.ECONFLICT, "message %s already exists", m.ID)
		case conflicted(reasons):
			if err := retryConflict(ctx, attempt, maxMessageAttempts, "simultaneous sends of idempotency key "+m.IdempotencyKey); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("put message: %w", err)
	}
}

// FindReplay reads m's idempotency key record and the message it names
// (two consistent reads), storing nothing.
func (db *DB) FindReplay(ctx context.Context, m *chatapp.Message) error {
	if m.IdempotencyKey == "" {
		return nil
	}
	stored, _, err := db.storedMessage(ctx, m, time.Now())
	if err != nil || stored == nil {
		return err
	}
	return chatapp.Replay(m, stored)
}

// storedMessage reads the record of m's idempotency key and the message it
// names. When the record is missing or expired it returns "", and when its
// message is gone (deleted, or expired), nil and the id the record names.
func (db *DB) storedMessage(ctx context.Context, m *chatapp.Message, now time.Time) (stored *chatapp.Message, recorded string, err error) {
	out, err := db.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(db.cfg.MessagesTable),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"room_id": &types.AttributeValueMemberS{Value: idempotencyPartition(m.RoomID, m.UserID)},
			"id":      &types.AttributeValueMemberS{Value: m.IdempotencyKey},
		},
	})
	if err != nil {
		return nil, "", fmt.Errorf("get idempotency key: %w", err)
	}
	var rec idempotencyItem
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return nil, "", fmt.Errorf("unmarshal idempotency key: %w", err)
	}
	if out.Item == nil || expired(rec.ExpiresAt, now) {
		return nil, "", nil
	}
	out, err = db.client.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(db.cfg.MessagesTable),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"room_id": &types.AttributeValueMemberS{Value: m.RoomID},
			"id":      &types.AttributeValueMemberS{Value: rec.MessageID},
		},
	})
	if err != nil {
		return nil, "", fmt.Errorf("get message: %w", err)
	}
	var it messageItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, "", fmt.Errorf("unmarshal message: %w", err)
	}
	if out.Item == nil || expired(it.ExpiresAt, now) {
		return nil, rec.MessageID, nil
	}
	return &chatapp.Message{ID: it.ID, RoomID: it.RoomID, Timestamp: it.Timestamp, Text: it.Text, UserID: it.UserID, Name: it.Name, IdempotencyKey: m.IdempotencyKey}, "", nil
}

// FindMessages reads one page of history: a Query on the room in id order,
// backward for the latest or a Before page, forward for an After page. It
// reads one item past the limit to learn whether more exist, and goes on
// reading while DynamoDB's 1 MB cap or expired rows left the page short. It
// stops, with More, at the first item that f.MaxBytes does not take: a page
// loads its budget and what the last Query returned (at most 1 MB), not its
// limit's worth. Once the budget is spent, a Query asks for one item, which
// only tells whether more exist.
func (db *DB) FindMessages(ctx context.Context, f chatapp.MessageFilter) (chatapp.MessagePage, error) {
	if err := f.Validate(); err != nil {
		return chatapp.MessagePage{}, err
	}
	in := &ddb.QueryInput{
		TableName:                 aws.String(db.cfg.MessagesTable),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("room_id = :room"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": &types.AttributeValueMemberS{Value: f.RoomID}},
		ScanIndexForward:          aws.Bool(false),
	}
	switch {
	case f.After != "":
		in.KeyConditionExpression = aws.String("room_id = :room AND #id > :cursor")
		in.ScanIndexForward = aws.Bool(true)
	case f.Before != "":
		in.KeyConditionExpression = aws.String("room_id = :room AND #id < :cursor")
	}
	if cursor := f.After + f.Before; cursor != "" { // Validate allows only one
		in.ExpressionAttributeNames = map[string]string{"#id": "id"}
		in.ExpressionAttributeValues[":cursor"] = &types.AttributeValueMemberS{Value: cursor}
	}

	now := time.Now()
	var page chatapp.MessagePage
	used := 0
read:
	for {
		want := f.Limit + 1 - len(page.Messages)
		if f.MaxBytes > 0 && used >= f.MaxBytes {
			want = 1
		}
		in.Limit = db.pageLimit(want)
		out, err := db.client.Query(ctx, in)
		if err != nil {
			return chatapp.MessagePage{}, fmt.Errorf("query messages: %w", err)
		}
		var items []messageItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return chatapp.MessagePage{}, fmt.Errorf("unmarshal messages: %w", err)
		}
		for _, it := range items {
			if expired(it.ExpiresAt, now) {
				continue
			}
			m := &chatapp.Message{ID: it.ID, RoomID: it.RoomID, Timestamp: it.Timestamp, Text: it.Text, UserID: it.UserID, Name: it.Name}
			size := m.StoredSize()
			if !f.Takes(len(page.Messages), used, size) {
				page.More = true
				break read
			}
			used += size
			page.Messages = append(page.Messages, m)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if f.After == "" {
		slices.Reverse(page.Messages)
	}
	return page, nil
}
