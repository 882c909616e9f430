package dynamodb

import (
	"context"
	"errors"
	"fmt"
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

// CreateMessage stores m, assigning its id and timestamp when empty. The
// write is conditional, so an existing message is never overwritten.
//
// Unlike SQLite, concurrent writers (several Lambdas) may commit ids out of
// id order, so an After page read at that instant can miss a message whose
// id is older than the cursor.
func (db *DB) CreateMessage(ctx context.Context, m *chatapp.Message) error {
	now := time.Now()
	if m.Timestamp == 0 {
		m.Timestamp = now.UnixMilli()
	}
	if m.ID == "" {
		m.ID = chatapp.NewMessageID(now)
	}
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
	_, err = db.client.PutItem(ctx, &ddb.PutItemInput{
		TableName:                aws.String(db.cfg.MessagesTable),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": "id"},
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

// FindMessages reads one page of history: a Query on the room in id order,
// backward for the latest or a Before page, forward for an After page. It
// reads one item past the limit to learn whether more exist, and goes on
// reading while DynamoDB's 1 MB cap or expired rows left the page short.
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

	want := f.Limit + 1
	now := time.Now()
	var page chatapp.MessagePage
	for len(page.Messages) < want {
		in.Limit = db.pageLimit(want - len(page.Messages))
		out, err := db.client.Query(ctx, in)
		if err != nil {
			return chatapp.MessagePage{}, fmt.Errorf("query messages: %w", err)
		}
		var items []messageItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return chatapp.MessagePage{}, fmt.Errorf("unmarshal messages: %w", err)
		}
		for _, it := range items {
			if !expired(it.ExpiresAt, now) {
				page.Messages = append(page.Messages, &chatapp.Message{
					ID: it.ID, RoomID: it.RoomID, Timestamp: it.Timestamp, Text: it.Text, UserID: it.UserID, Name: it.Name,
				})
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(page.Messages) > f.Limit {
		page.Messages, page.More = page.Messages[:f.Limit], true
	}
	if f.After == "" {
		reverse(page.Messages)
	}
	return page, nil
}

func reverse(ms []*chatapp.Message) {
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
}
