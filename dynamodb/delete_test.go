package dynamodb_test

// A connection's delete that stops halfway: DynamoDB calls that fail, or
// take effect with their caller told they failed, and a record stored anew
// between the delete's read and its write.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/dynamodb"
)

// hooked returns a store on client whose every DynamoDB call runs through
// hook, which makes the call (next) or not.
func hooked(client *ddb.Client, hook func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error)) *dynamodb.DB {
	return dynamodb.New(ddb.New(client.Options(), func(o *ddb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("hook", hook), middleware.After)
		})
	}), base)
}

// failOneCall returns a store on client whose nth DynamoDB call fails:
// unsent, or, when applied is set, after it took effect (its caller's
// context ended while the call was in flight, say). calls counts the
// calls made.
func failOneCall(client *ddb.Client, nth int, applied bool) (db *dynamodb.DB, calls *atomic.Int32) {
	calls = new(atomic.Int32)
	injected := errors.New("injected failure")
	return hooked(client, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if calls.Add(1) != int32(nth) {
			return next.HandleInitialize(ctx, in)
		}
		if applied {
			_, md, _ := next.HandleInitialize(ctx, in)
			return middleware.InitializeOutput{}, md, injected
		}
		return middleware.InitializeOutput{}, middleware.Metadata{}, injected
	}), calls
}

// stored tells which of a connection's items the table holds: its record
// by id, its row in its room, its id in its user's slots.
func stored(t *testing.T, client *ddb.Client, c *chatapp.Connection) (record, row, slot bool) {
	t.Helper()
	get := func(partition, sort string) bool {
		out, err := client.GetItem(t.Context(), &ddb.GetItemInput{
			TableName: aws.String(base.ConnectionsTable), Key: connectionKey(partition, sort), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Item) > 0
	}
	var slots struct {
		IDs []string `dynamodbav:"connection_ids,stringset"`
	}
	out, err := client.GetItem(t.Context(), &ddb.GetItemInput{
		TableName: aws.String(base.ConnectionsTable), Key: connectionKey("#user#"+c.UserID, "#slots"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := attributevalue.UnmarshalMap(out.Item, &slots); err != nil {
		t.Fatal(err)
	}
	return get("#connection#"+c.ID, c.ID), get(c.RoomID, c.ID), slices.Contains(slots.IDs, c.ID)
}

// TestDeleteConnectionIsAllOrNothing: whichever of a DeleteConnection's
// DynamoDB calls fails, unsent or after taking effect, the connection is
// either gone whole (record, row, its user's slot) or still whole, its row
// in its room, where the next delete (a post's 410, the sweep) finds it
// and removes it, returning it for the leave. Separate writes stopped
// halfway left a record without its row: a connection no delete ever
// found again, its leave never announced and its slot held until the TTL
// (a user capped at 1 could not connect). Each call of the delete fails
// in turn, until the delete makes no more.
func TestDeleteConnectionIsAllOrNothing(t *testing.T) {
	client, db := open(t, base)
	ctx := t.Context()
	const maxCalls = 10
	for nth := 1; nth <= maxCalls; nth++ {
		reached := false
		for _, applied := range []bool{false, true} {
			name := fmt.Sprintf("call %d failing unsent", nth)
			if applied {
				name = fmt.Sprintf("call %d failing after taking effect", nth)
			}
			user := "half-" + rand.Text()
			c := &chatapp.Connection{ID: "half-" + rand.Text() + "=", RoomID: "room-half-" + rand.Text(), UserID: user, Name: "Half", Timestamp: time.Now().UnixMilli(), Presence: true}
			if err := db.CreateConnection(ctx, c, 1); err != nil {
				t.Fatal(err)
			}
			failing, calls := failOneCall(client, nth, applied)
			got, err := failing.DeleteConnection(ctx, c.ID)
			t.Logf("%s: returned %v, %v (%d calls)", name, got != nil, err, calls.Load())
			reached = reached || calls.Load() >= int32(nth)
			returned := 0
			if got != nil {
				returned++
			}
			switch record, row, slot := stored(t, client, c); {
			case record && row && slot:
				// Nothing done: the next delete does it all.
				again, err := db.DeleteConnection(ctx, c.ID)
				if err != nil || again == nil || *again != *c {
					t.Fatalf("%s: the next DeleteConnection = %+v, %v; want the connection", name, again, err)
				}
				returned++
				if record, row, slot := stored(t, client, c); record || row || slot {
					t.Fatalf("%s: after the next delete, the record %v, the row %v, the slot %v remain", name, record, row, slot)
				}
			case !record && !row && !slot:
			default:
				t.Errorf("%s: DeleteConnection (%v) left the record: %v, the row in its room: %v, the id in its user's slots: %v; want all or none",
					name, err, record, row, slot)
				continue
			}
			// One delete returned the connection, for its leave; none when
			// the call that failed was the one that removed it all: its
			// caller, told it failed, has nothing to announce (a store
			// cannot tell a caller that is gone).
			if returned != 1 && !(applied && err != nil && returned == 0) {
				t.Errorf("%s: %d deletes returned the connection (the failing one: %v, %v), want 1", name, returned, got, err)
			}
			if err := db.CreateConnection(ctx, &chatapp.Connection{ID: "half-" + rand.Text() + "=", RoomID: c.RoomID, UserID: user, Timestamp: 1}, 1); err != nil {
				t.Errorf("%s: a new connection of the user, capped at 1: %v", name, err)
			}
		}
		if !reached {
			if nth == 1 {
				t.Fatal("DeleteConnection made no DynamoDB call")
			}
			return // every call of the delete has failed in turn
		}
	}
	t.Fatalf("DeleteConnection made %d calls or more", maxCalls)
}

// TestDeleteConnectionOfAConnectionStoredAgain: a connection stored again
// in another room between its delete's read of the record and the delete's
// write is deleted as it now is: no row left in either room, and the
// connection returned is the one stored last.
func TestDeleteConnectionOfAConnectionStoredAgain(t *testing.T) {
	client, db := open(t, base)
	ctx := t.Context()
	from, to := "room-again-from-"+rand.Text(), "room-again-to-"+rand.Text()
	c := &chatapp.Connection{ID: "again-" + rand.Text() + "=", RoomID: from, UserID: "again-" + rand.Text(), Name: "Before", Timestamp: 1}
	if err := db.CreateConnection(ctx, c, 2); err != nil {
		t.Fatal(err)
	}
	moved := *c
	moved.RoomID, moved.Name, moved.Timestamp = to, "After", 2
	var once sync.Once
	var moveErr error
	deleting := hooked(client, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		switch in.Parameters.(type) {
		case *ddb.GetItemInput, *ddb.QueryInput, *ddb.BatchGetItemInput:
		default: // the delete's first write: the connection moves first
			once.Do(func() { moveErr = db.CreateConnection(ctx, &moved, 2) })
		}
		return next.HandleInitialize(ctx, in)
	})
	got, err := deleting.DeleteConnection(ctx, c.ID)
	if moveErr != nil {
		t.Fatal(moveErr)
	}
	if err != nil || got == nil || *got != moved {
		t.Fatalf("DeleteConnection = %+v, %v; want the connection as stored again, %+v", got, err, moved)
	}
	for _, room := range []string{from, to} {
		conns, err := db.FindConnectionsByRoom(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if len(conns) != 0 {
			t.Errorf("%s still lists %d connections after the delete", room, len(conns))
		}
	}
	if record, row, slot := stored(t, client, &moved); record || row || slot {
		t.Errorf("after the delete: the record %v, the row %v, the slot %v remain", record, row, slot)
	}
}

// TestTransactionAttemptsHaveTheirOwnToken: a transaction our own loop tries
// again with other conditions (a connection moved to another room: the
// first attempt fails, the second takes the old record over) is sent with
// a new ClientRequestToken. The SDK writes the token it makes into the
// input, and an input sent again kept it: within 10 minutes DynamoDB
// answers a changed request under a used token with
// IdempotentParameterMismatch (DynamoDB Local does not check this, so the
// test reads the tokens sent).
func TestTransactionAttemptsHaveTheirOwnToken(t *testing.T) {
	client, _ := open(t, base)
	var (
		mu     sync.Mutex
		tokens []string
	)
	recorded := ddb.New(client.Options(), func(o *ddb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Serialize.Add(middleware.SerializeMiddlewareFunc("recordTokens",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					if tw, ok := in.Parameters.(*ddb.TransactWriteItemsInput); ok {
						mu.Lock()
						tokens = append(tokens, aws.ToString(tw.ClientRequestToken))
						mu.Unlock()
					}
					return next.HandleSerialize(ctx, in)
				}), middleware.Before)
		})
	})
	db := dynamodb.New(recorded, base)
	ctx := t.Context()
	id, user := "conn-"+rand.Text(), "user-"+rand.Text()
	for _, room := range []string{"room-a-" + rand.Text(), "room-b-" + rand.Text()} {
		if err := db.CreateConnection(ctx, &chatapp.Connection{ID: id, RoomID: room, UserID: user}, 3); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) < 3 {
		t.Fatalf("%d transactions sent for a connection and its move, want at least 3 (the move tries twice)", len(tokens))
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if tok == "" || seen[tok] {
			t.Fatalf("tokens sent %q: each attempt needs a token of its own", tokens)
		}
		seen[tok] = true
	}
}
