package dynamodb_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/awsconfig"
	"github.com/chatapp-dev/chatapp/internal/dynamolocal"
	"github.com/chatapp-dev/chatapp/storetest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.Main(m)) }

// Tables of this run: fresh names, so a run never reads an earlier one's rows.
var (
	prefix = "chatapp-test-" + rand.Text()[:8]
	base   = dynamodb.Config{
		MessagesTable:    prefix + "-chat-messages",
		ConnectionsTable: prefix + "-userlist",
		QueryPageSize:    25, // a few rows span several Query pages
	}
	setup struct {
		once   sync.Once
		client *ddb.Client
		err    error
	}
)

// open returns a client on DynamoDB Local and a store with cfg on this run's
// tables, which it creates once.
func open(t *testing.T, cfg dynamodb.Config) (*ddb.Client, *dynamodb.DB) {
	t.Helper()
	endpoint := dynamolocal.Start(t)
	setup.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if setup.client, setup.err = awsconfig.NewDynamoDBClient(ctx, dynamodb.ClientConfig{Endpoint: endpoint}); setup.err == nil {
			setup.err = dynamodb.New(setup.client, base).CreateTables(ctx)
		}
	})
	if setup.err != nil {
		t.Fatalf("set up tables: %v", setup.err)
	}
	return setup.client, dynamodb.New(setup.client, cfg)
}

func TestConformance(t *testing.T) {
	_, db := open(t, base)
	storetest.Run(t, func(t *testing.T) storetest.Store { return db })
}

func TestTables(t *testing.T) {
	client, db := open(t, base)
	ctx := t.Context()
	if err := db.CreateTables(ctx); err != nil { // again: a no-op
		t.Fatalf("CreateTables on existing tables: %v", err)
	}

	msgs := describe(t, client, base.MessagesTable)
	assertKey(t, msgs.KeySchema, "room_id", "id")
	assertStringAttrs(t, msgs.AttributeDefinitions)
	if msgs.BillingModeSummary == nil || msgs.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("messages billing = %+v, want PAY_PER_REQUEST", msgs.BillingModeSummary)
	}

	// A room is a partition, listed by a strongly consistent Query: no
	// global index, which cannot be read so.
	conns := describe(t, client, base.ConnectionsTable)
	assertKey(t, conns.KeySchema, "room_id", "connection_id")
	assertStringAttrs(t, conns.AttributeDefinitions)
	if n := len(conns.GlobalSecondaryIndexes); n != 0 {
		t.Errorf("connections has %d global indexes, want none", n)
	}

	for _, table := range []string{base.MessagesTable, base.ConnectionsTable} {
		out, err := client.DescribeTimeToLive(ctx, &ddb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		ttl := out.TimeToLiveDescription
		if ttl.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.AttributeName) != "expires_at" {
			t.Errorf("%s TTL = %s on %q, want ENABLED on expires_at", table, ttl.TimeToLiveStatus, aws.ToString(ttl.AttributeName))
		}
	}
}

// The original's messages table, sorted by timestamp, must not be taken for
// ours: its writes would fail on the missing key.
func TestCreateTablesRejectsOtherKeys(t *testing.T) {
	client, _ := open(t, base)
	name := prefix + "-original-messages"
	_, err := client.CreateTable(t.Context(), &ddb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("room_id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("timestamp"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("room_id"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("timestamp"), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := base
	cfg.MessagesTable = name
	if err := dynamodb.New(client, cfg).CreateTables(t.Context()); err == nil {
		t.Fatal("CreateTables accepted a messages table keyed by timestamp")
	}
}

// A connections table of an earlier chatapp, keyed by connection_id alone
// with a room index, must not be taken for ours: its room listings could
// not be read consistently, and every write would fail on the missing key.
func TestCreateTablesRejectsTheOldConnectionsKey(t *testing.T) {
	client, _ := open(t, base)
	name := prefix + "-old-userlist"
	_, err := client.CreateTable(t.Context(), &ddb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("connection_id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("room_id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("user_id"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("connection_id"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String("room_id-user_id-index"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("room_id"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("user_id"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := base
	cfg.ConnectionsTable = name
	err = dynamodb.New(client, cfg).CreateTables(t.Context())
	if err == nil {
		t.Fatal("CreateTables accepted a connections table keyed by connection_id alone")
	}
	for _, want := range []string{name, "(connection_id HASH)", "(room_id HASH, connection_id RANGE)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CreateTables: %v; want it to name %q", err, want)
		}
	}
}

func TestConnectionExpiresAt(t *testing.T) {
	client, db := open(t, base)
	c := &chatapp.Connection{ID: "ttl-" + rand.Text() + "=", RoomID: "room-ttl", UserID: "u", Timestamp: 5}
	before := time.Now()
	if err := db.CreateConnection(t.Context(), c, 0); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	lo, hi := before.Add(dynamodb.DefaultConnectionTTL).Unix(), after.Add(dynamodb.DefaultConnectionTTL).Unix()
	// The row in its room and the record by id: TTL deletes both.
	for _, partition := range []string{c.RoomID, "#connection#" + c.ID} {
		got := expiresAt(t, getItem(t, client, base.ConnectionsTable, "room_id", partition, "connection_id", c.ID))
		if got < lo || got > hi {
			t.Fatalf("%s: expires_at = %d, want within [%d, %d] (write time + 2h10m)", partition, got, lo, hi)
		}
	}
}

// TTL deletes lazily: a row past expires_at may still be read, and must be
// skipped.
func TestExpiredConnectionHidden(t *testing.T) {
	client, db := open(t, base)
	ctx := t.Context()
	room := "room-expired-" + rand.Text()
	live := &chatapp.Connection{ID: "live-" + rand.Text() + "=", RoomID: room, UserID: "u1", Timestamp: time.Now().UnixMilli()}
	if err := db.CreateConnection(ctx, live, 0); err != nil {
		t.Fatal(err)
	}
	dead := "dead-" + rand.Text() + "="
	item, err := attributevalue.MarshalMap(map[string]any{
		"connection_id": dead, "room_id": room, "user_id": "u0", "name": "", "presence": false,
		"timestamp":  time.Now().Add(-3 * time.Hour).UnixMilli(),
		"expires_at": time.Now().Add(-time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Its row in the room, and its record by id.
	record, err := attributevalue.MarshalMap(map[string]any{
		"connection_id": dead, "room_id": "#connection#" + dead, "in_room": room, "user_id": "u0", "name": "", "presence": false,
		"timestamp":  time.Now().Add(-3 * time.Hour).UnixMilli(),
		"expires_at": time.Now().Add(-time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range []map[string]types.AttributeValue{item, record} {
		if _, err := client.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(base.ConnectionsTable), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.FindConnection(ctx, dead); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Fatalf("FindConnection of an expired row = %v, want not_found", err)
	}
	conns, err := db.FindConnectionsByRoom(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 || *conns[0] != *live {
		t.Fatalf("FindConnectionsByRoom = %d connections, want only the live one", len(conns))
	}
}

func TestMessageRetention(t *testing.T) {
	cfg := base
	cfg.MessageRetention = 24 * time.Hour
	cfg.QueryPageSize = 1 // every row its own page: the read loop must skip expired ones
	client, db := open(t, cfg)
	_, keep := open(t, base)
	ctx := t.Context()
	room := "room-retention-" + rand.Text()

	// Three messages older than the retention, which TTL has not deleted yet.
	old := time.Now().Add(-48 * time.Hour)
	for i := range 3 {
		ts := old.Add(time.Duration(i) * time.Second)
		m := &chatapp.Message{ID: storetest.MessageID(ts), Timestamp: ts.UnixMilli(), RoomID: room, UserID: "u", Text: "old"}
		if err := db.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var fresh []*chatapp.Message
	for range 2 {
		m := &chatapp.Message{RoomID: room, UserID: "u", Text: "fresh"}
		if err := db.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, m)
	}
	forever := &chatapp.Message{RoomID: room + "-kept", UserID: "u", Text: "kept"}
	if err := keep.CreateMessage(ctx, forever); err != nil {
		t.Fatal(err)
	}

	m := fresh[0]
	want := time.UnixMilli(m.Timestamp).Add(24 * time.Hour).Unix()
	if got := expiresAt(t, getItem(t, client, base.MessagesTable, "room_id", m.RoomID, "id", m.ID)); got != want {
		t.Errorf("expires_at = %d, want %d (timestamp + retention)", got, want)
	}
	if item := getItem(t, client, base.MessagesTable, "room_id", forever.RoomID, "id", forever.ID); item["expires_at"] != nil {
		t.Errorf("a message stored without retention has expires_at %v", item["expires_at"])
	}

	for _, f := range []chatapp.MessageFilter{
		{RoomID: room, Limit: 2},
		{RoomID: room, Limit: 3},
		{RoomID: room, Before: storetest.MessageID(time.Now().Add(time.Minute))},
		{RoomID: room, After: storetest.MessageID(old.Add(-time.Minute))},
	} {
		page, err := db.FindMessages(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if page.More || len(page.Messages) != 2 || page.Messages[0].ID != fresh[0].ID || page.Messages[1].ID != fresh[1].ID {
			t.Errorf("FindMessages(%+v) = %d messages, More %v; want the 2 fresh ones and no More", f, len(page.Messages), page.More)
		}
	}
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: room, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].ID != fresh[1].ID || !page.More {
		t.Errorf("latest 1 = %d messages, More %v; want the newest and More", len(page.Messages), page.More)
	}
}

// connectionKey is the key of an item of the connections table.
func connectionKey(partition, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"room_id":       &types.AttributeValueMemberS{Value: partition},
		"connection_id": &types.AttributeValueMemberS{Value: id},
	}
}

func describe(t *testing.T, client *ddb.Client, table string) *types.TableDescription {
	t.Helper()
	out, err := client.DescribeTable(t.Context(), &ddb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Table
}

func assertKey(t *testing.T, ks []types.KeySchemaElement, partition, sort string) {
	t.Helper()
	want := []types.KeySchemaElement{{AttributeName: aws.String(partition), KeyType: types.KeyTypeHash}}
	if sort != "" {
		want = append(want, types.KeySchemaElement{AttributeName: aws.String(sort), KeyType: types.KeyTypeRange})
	}
	if len(ks) != len(want) {
		t.Fatalf("key schema has %d elements, want %d", len(ks), len(want))
	}
	for i := range want {
		if aws.ToString(ks[i].AttributeName) != aws.ToString(want[i].AttributeName) || ks[i].KeyType != want[i].KeyType {
			t.Errorf("key %d = %s %s, want %s %s", i, aws.ToString(ks[i].AttributeName), ks[i].KeyType, aws.ToString(want[i].AttributeName), want[i].KeyType)
		}
	}
}

// assertStringAttrs checks that every key attribute is a string.
func assertStringAttrs(t *testing.T, defs []types.AttributeDefinition) {
	t.Helper()
	for _, d := range defs {
		if d.AttributeType != types.ScalarAttributeTypeS {
			t.Errorf("key attribute %s has type %s, want S", aws.ToString(d.AttributeName), d.AttributeType)
		}
	}
}

func getItem(t *testing.T, client *ddb.Client, table, pk, pv, sk, sv string) map[string]types.AttributeValue {
	t.Helper()
	key := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: pv}}
	if sk != "" {
		key[sk] = &types.AttributeValueMemberS{Value: sv}
	}
	out, err := client.GetItem(t.Context(), &ddb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		t.Fatalf("no item %s=%s in %s", pk, pv, table)
	}
	return out.Item
}

// expiresAt reads an item's expires_at, which TTL needs as a number.
func expiresAt(t *testing.T, item map[string]types.AttributeValue) int64 {
	t.Helper()
	n, ok := item["expires_at"].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("expires_at = %#v, want a number", item["expires_at"])
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The read loops must follow LastEvaluatedKey: count the Query requests a
// room of 120 connections and a 100-message page take with 25-item pages.
func TestQueryPagination(t *testing.T) {
	client, _ := open(t, base)
	var queries atomic.Int32
	counted := ddb.New(client.Options(), func(o *ddb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countQueries",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if _, ok := in.Parameters.(*ddb.QueryInput); ok {
						queries.Add(1)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
	db := dynamodb.New(counted, base)
	ctx := t.Context()
	room := "room-pages-" + rand.Text()
	for i := range 120 {
		c := &chatapp.Connection{ID: "p-" + strconv.Itoa(i) + "-" + rand.Text() + "=", RoomID: room, UserID: "u", Timestamp: int64(i)}
		if err := db.CreateConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
		if i < 101 {
			if err := db.CreateMessage(ctx, &chatapp.Message{RoomID: room, UserID: "u", Text: "m"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	queries.Store(0)
	conns, err := db.FindConnectionsByRoom(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if n := queries.Load(); len(conns) != 120 || n < 5 {
		t.Errorf("FindConnectionsByRoom: %d connections in %d queries, want 120 in at least 5", len(conns), n)
	}

	queries.Store(0)
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: room, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := queries.Load(); len(page.Messages) != 100 || !page.More || n != 5 {
		t.Errorf("FindMessages: %d messages (More %v) in %d queries, want 100 and More in 5 (101 items, 25 a page)", len(page.Messages), page.More, n)
	}
}

// TestConnectionSlotsHeal: a user's slot held by a connection whose row is
// gone ($disconnect never ran) or expired does not count against the cap:
// the user is not locked out by sockets that no longer exist.
func TestConnectionSlotsHeal(t *testing.T) {
	client, db := open(t, base)
	ctx := t.Context()
	user := "heal-" + rand.Text()
	conn := func(i int) *chatapp.Connection {
		return &chatapp.Connection{ID: "heal-" + strconv.Itoa(i) + "-" + rand.Text() + "=", RoomID: "room-heal-" + rand.Text(), UserID: user, Timestamp: int64(i)}
	}
	var conns []*chatapp.Connection
	for i := range 3 {
		c := conn(i)
		if err := db.CreateConnection(ctx, c, 3); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if err := db.CreateConnection(ctx, conn(3), 3); chatapp.ErrorCode(err) != chatapp.ERATELIMIT {
		t.Fatalf("past the cap: %v, want rate_limited", err)
	}

	// One connection gone without a $disconnect (by TTL), one expired but
	// not yet deleted by TTL.
	for _, partition := range []string{conns[0].RoomID, "#connection#" + conns[0].ID} {
		if _, err := client.DeleteItem(ctx, &ddb.DeleteItemInput{
			TableName: aws.String(base.ConnectionsTable),
			Key:       connectionKey(partition, conns[0].ID),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                 aws.String(base.ConnectionsTable),
		Key:                       connectionKey("#connection#"+conns[1].ID, conns[1].ID),
		UpdateExpression:          aws.String("SET expires_at = :past"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}},
	}); err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 6; i++ {
		if err := db.CreateConnection(ctx, conn(i), 3); err != nil {
			t.Fatalf("connection %d, with two slots held by dead sockets: %v", i, err)
		}
	}
	if err := db.CreateConnection(ctx, conn(6), 3); chatapp.ErrorCode(err) != chatapp.ERATELIMIT {
		t.Fatalf("past the cap after the heal: %v, want rate_limited", err)
	}
}

// TestConnectionSlotsHidden: the item that holds a user's slots is no
// connection: not found by id, not listed, in no room.
func TestConnectionSlotsHidden(t *testing.T) {
	_, db := open(t, base)
	ctx := t.Context()
	user := "hidden-" + rand.Text()
	c := &chatapp.Connection{ID: "hidden-" + rand.Text() + "=", RoomID: "room-hidden-" + rand.Text(), UserID: user, Timestamp: 1}
	if err := db.CreateConnection(ctx, c, 5); err != nil {
		t.Fatal(err)
	}
	all, err := db.ListConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range all {
		if l.RoomID == "" || strings.HasPrefix(l.ID, "#") {
			t.Errorf("ListConnections holds %+v", *l)
		}
		found = found || l.ID == c.ID
	}
	if !found {
		t.Errorf("ListConnections lacks %s", c.ID)
	}
	if conns, err := db.FindConnectionsByRoom(ctx, ""); err == nil && len(conns) != 0 {
		t.Errorf("the room \"\" holds %d connections", len(conns))
	}
	if got, err := db.FindConnection(ctx, "#user#"+user); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("FindConnection of the user's slots = %v, %v; want not_found", got, err)
	}
}

// TestIdempotencyKeyWithoutItsMessage: a key record whose message is gone
// does not turn the replay into a server error: the send is stored anew
// under the key, as if first sent, and later replays get that message. A
// record whose TTL has passed frees its key.
func TestIdempotencyKeyWithoutItsMessage(t *testing.T) {
	client, db := open(t, base)
	ctx := t.Context()
	room := "room-idem-" + rand.Text()
	first := &chatapp.Message{RoomID: room, UserID: "u", Text: "hello", IdempotencyKey: "k1"}
	if err := db.CreateMessage(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteItem(ctx, &ddb.DeleteItemInput{
		TableName: aws.String(base.MessagesTable),
		Key: map[string]types.AttributeValue{
			"room_id": &types.AttributeValueMemberS{Value: room},
			"id":      &types.AttributeValueMemberS{Value: first.ID},
		},
	}); err != nil {
		t.Fatal(err)
	}
	replay := &chatapp.Message{RoomID: room, UserID: "u", Text: "hello", IdempotencyKey: "k1"}
	if err := db.CreateMessage(ctx, replay); err != nil {
		t.Fatalf("replay of a key whose message is gone: %v, want it stored anew", err)
	}
	again := &chatapp.Message{RoomID: room, UserID: "u", Text: "hello", IdempotencyKey: "k1"}
	if err := db.CreateMessage(ctx, again); !errors.Is(err, chatapp.ErrDuplicate) || again.ID != replay.ID {
		t.Fatalf("the next replay: %v, id %s; want ErrDuplicate of %s", err, again.ID, replay.ID)
	}
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: room})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].ID != replay.ID {
		t.Fatalf("history holds %d messages, want the one stored anew", len(page.Messages))
	}

	// A record past its TTL, which DynamoDB has not deleted yet.
	if _, err := client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: aws.String(base.MessagesTable),
		Key: map[string]types.AttributeValue{
			"room_id": &types.AttributeValueMemberS{Value: "#idem#" + room + "#u"},
			"id":      &types.AttributeValueMemberS{Value: "k1"},
		},
		UpdateExpression:          aws.String("SET expires_at = :past"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}},
	}); err != nil {
		t.Fatal(err)
	}
	fresh := &chatapp.Message{RoomID: room, UserID: "u", Text: "a new text", IdempotencyKey: "k1"}
	if err := db.CreateMessage(ctx, fresh); err != nil || fresh.ID == replay.ID {
		t.Fatalf("a send with an expired key: %v, id %s; want a new message", err, fresh.ID)
	}
}

// TestIdempotencyRecordExpiresWithItsMessage: with a retention shorter than
// the idempotency window, a key record expires no later than its message.
func TestIdempotencyRecordExpiresWithItsMessage(t *testing.T) {
	cfg := base
	cfg.MessageRetention = time.Hour
	client, db := open(t, cfg)
	room := "room-idem-ttl-" + rand.Text()
	m := &chatapp.Message{RoomID: room, UserID: "u", Text: "short-lived", IdempotencyKey: "k"}
	if err := db.CreateMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	message := expiresAt(t, getItem(t, client, base.MessagesTable, "room_id", room, "id", m.ID))
	record := expiresAt(t, getItem(t, client, base.MessagesTable, "room_id", "#idem#"+room+"#u", "id", "k"))
	if record > message {
		t.Fatalf("the key record expires at %d, after its message (%d)", record, message)
	}
}

// TestFindMessagesStopsAtTheBudget: a page of limit 1000 with a byte budget
// of 64 KiB, on a room of 100 messages of 16 KiB, stops reading once the
// budget is spent: one Query (DynamoDB returns at most 1 MB a call), where
// the loop went on to fill the limit and read the room whole.
func TestFindMessagesStopsAtTheBudget(t *testing.T) {
	client, _ := open(t, base)
	var queries, items atomic.Int32
	counted := ddb.New(client.Options(), func(o *ddb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countQueries",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					if q, ok := out.Result.(*ddb.QueryOutput); ok {
						queries.Add(1)
						items.Add(int32(len(q.Items)))
					}
					return out, md, err
				}), middleware.After)
		})
	})
	cfg := base
	cfg.QueryPageSize = 0 // DynamoDB's own 1 MB cap
	db := dynamodb.New(counted, cfg)
	ctx := t.Context()
	room := "room-budget-" + rand.Text()
	text := strings.Repeat("b", chatapp.MaxMessageBytes)
	var ms []*chatapp.Message
	for range 100 {
		m := &chatapp.Message{RoomID: room, UserID: "u", Text: text}
		if err := db.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}

	queries.Store(0)
	items.Store(0)
	const budget = 64 << 10
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: room, Limit: chatapp.MaxHistoryLimit, MaxBytes: budget})
	if err != nil {
		t.Fatal(err)
	}
	size := ms[0].StoredSize()
	if want := budget / size; len(page.Messages) != want || !page.More || page.Messages[want-1].ID != ms[99].ID {
		t.Fatalf("%d messages (More %v), want the newest %d and More", len(page.Messages), page.More, want)
	}
	t.Logf("%d Queries, %d items read, %d kept", queries.Load(), items.Load(), len(page.Messages))
	if q, n := queries.Load(), items.Load(); q != 1 || n >= 100 {
		t.Errorf("%d Queries read %d items of 16 KiB for a page of %d bytes; want 1 Query (at most 1 MB)", q, n, budget)
	}
}

// TestConnectionReadsAreStronglyConsistent: every read of the connections
// table is strongly consistent and reads the table, not an index; above all
// the room listing that a broadcast reads, so that a client whose $connect
// has returned is in every later broadcast (docs/guarantees.md, no gap). A
// global secondary index cannot be read consistently: DynamoDB, and
// DynamoDB Local, refuse ConsistentRead on one. Every path is run: the
// listing, the lookup by id, a delete, a connection moved to another room,
// a user at the cap (its slots and their records read), the sweeper's Scan.
func TestConnectionReadsAreStronglyConsistent(t *testing.T) {
	client, _ := open(t, base)
	var (
		mu    sync.Mutex
		seen  = map[string]int{}
		wrong []string
	)
	check := func(op string, consistent *bool, index *string, table string) {
		if table != base.ConnectionsTable {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen[op]++
		if !aws.ToBool(consistent) || index != nil {
			wrong = append(wrong, fmt.Sprintf("%s (ConsistentRead %v, index %q)", op, aws.ToBool(consistent), aws.ToString(index)))
		}
	}
	counted := ddb.New(client.Options(), func(o *ddb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("checkReads",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					switch p := in.Parameters.(type) {
					case *ddb.QueryInput:
						check("Query", p.ConsistentRead, p.IndexName, aws.ToString(p.TableName))
					case *ddb.GetItemInput:
						check("GetItem", p.ConsistentRead, nil, aws.ToString(p.TableName))
					case *ddb.ScanInput:
						check("Scan", p.ConsistentRead, p.IndexName, aws.ToString(p.TableName))
					case *ddb.BatchGetItemInput:
						for table, keys := range p.RequestItems {
							check("BatchGetItem", keys.ConsistentRead, nil, table)
						}
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
	db := dynamodb.New(counted, base)
	ctx := t.Context()
	room, other, user := "room-consistent-"+rand.Text(), "room-consistent-"+rand.Text(), "consistent-"+rand.Text()
	var conns []*chatapp.Connection
	for i := range 3 {
		c := &chatapp.Connection{ID: "cr-" + strconv.Itoa(i) + "-" + rand.Text() + "=", RoomID: room, UserID: user, Timestamp: int64(i + 1)}
		if err := db.CreateConnection(ctx, c, 2); err != nil && i < 2 {
			t.Fatal(err)
		} else if err == nil {
			conns = append(conns, c)
		}
	}
	listed, err := db.FindConnectionsByRoom(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0].ID != conns[0].ID || listed[1].ID != conns[1].ID {
		t.Fatalf("the room lists %d connections, want the 2 stored", len(listed))
	}
	if _, err := db.FindConnection(ctx, conns[0].ID); err != nil {
		t.Fatal(err)
	}
	moved := *conns[1]
	moved.RoomID = other
	if err := db.CreateConnection(ctx, &moved, 2); err != nil {
		t.Fatalf("moving a connection to another room: %v", err)
	}
	if _, err := db.DeleteConnection(ctx, conns[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ListConnections(ctx); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"Query", "GetItem", "BatchGetItem", "Scan"} {
		if seen[op] == 0 {
			t.Errorf("no %s of the connections table was made: the test missed a path", op)
		}
	}
	for _, w := range wrong {
		t.Errorf("a read of the connections table is not strongly consistent: %s", w)
	}
}

// TestMovedConnectionLeavesNoRowBehind: a connection stored again in
// another room (CreateConnection with an id stored elsewhere) leaves its
// old room in the same transaction that takes its record over. A delete of
// the old row after the commit, if it failed, left the record naming the
// new room, so no later DeleteConnection reached the old row: the socket
// was still listed in the old room (and got its messages) until the TTL.
// Every DeleteItem of this store fails here, as it may on AWS.
func TestMovedConnectionLeavesNoRowBehind(t *testing.T) {
	client, db := open(t, base)
	failing := dynamodb.New(ddb.New(client.Options(), func(o *ddb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("failDeleteItem",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if _, ok := in.Parameters.(*ddb.DeleteItemInput); ok {
						return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected DeleteItem failure")
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	}), base)
	ctx := t.Context()
	from, to := "room-move-from-"+rand.Text(), "room-move-to-"+rand.Text()
	for _, maxPerUser := range []int{0, 3} {
		c := &chatapp.Connection{ID: "move-" + strconv.Itoa(maxPerUser) + "-" + rand.Text() + "=", RoomID: from, UserID: "mover", Timestamp: 1}
		if err := db.CreateConnection(ctx, c, maxPerUser); err != nil {
			t.Fatal(err)
		}
		moved := *c
		moved.RoomID = to
		if err := failing.CreateConnection(ctx, &moved, maxPerUser); err != nil {
			t.Errorf("cap %d: moving a connection to another room with DeleteItem failing: %v", maxPerUser, err)
		}
		if got, err := db.FindConnection(ctx, c.ID); err != nil || got.RoomID != to {
			t.Fatalf("cap %d: after the move FindConnection = %+v, %v; want it in %s", maxPerUser, got, err, to)
		}
		if _, err := db.DeleteConnection(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		for _, room := range []string{from, to} {
			conns, err := db.FindConnectionsByRoom(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range conns {
				if l.ID == c.ID {
					t.Errorf("cap %d: %s still lists the moved connection after its DeleteConnection", maxPerUser, room)
				}
			}
		}
	}
}
