package apigw_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/awsconfig"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// env is a local gateway with the real handlers in process, whose
// /@connections endpoint the Notifier under test posts to, as functions
// running on Lambda post to API Gateway's.
type env struct {
	url      string
	db       *sqlite.DB
	notifier *apigw.Notifier
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sockets := hub.New(nil)
	h := &handler.Handler{Messages: db, Connections: db, Notifier: sockets, Rooms: sockets}
	gw := gateway.New(gateway.Config{Hub: sockets, WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": h.Connect, "$disconnect": h.Disconnect,
	}})
	srv := httptest.NewServer(gw)
	t.Cleanup(func() { srv.Close(); gw.Close(); db.Close() })
	n := &apigw.Notifier{
		Connections: db,
		// The gateway accepts requests signed with its own credentials only.
		AWS: aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.StaticCredentialsProvider{Value: gw.ManagementCredentials()},
		},
		Endpoint: srv.URL,
	}
	return &env{url: srv.URL, db: db, notifier: n}
}

func (e *env) dial(t *testing.T, room, user string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws?room_id="+room+"&user_id="+user, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBroadcastPostsToEveryConnectionAndRemovesGoneOnes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.dial(t, "room", "a"), e.dial(t, "room", "b")
	other := e.dial(t, "elsewhere", "c")
	// A row whose socket is gone, as when $disconnect never ran on AWS. Its
	// id ends in "=" like every API Gateway id.
	stale := &chatapp.Connection{ID: "StaleConnectio=", RoomID: "room", UserID: "ghost", Timestamp: 1}
	if err := e.db.CreateConnection(ctx, stale, 0); err != nil {
		t.Fatal(err)
	}

	d, err := e.notifier.Broadcast(ctx, "room", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{"message":"hi"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Delivered != 2 || d.Failed != 1 || len(d.Connections) != 3 {
		t.Fatalf("delivery %+v, want 2 delivered, 1 failed, 3 connections", d)
	}
	for _, c := range []*websocket.Conn{a, b} {
		if got := read(t, c); got != `{"message":"hi"}` {
			t.Errorf("client got %s", got)
		}
	}
	if _, err := e.db.FindConnection(ctx, stale.ID); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("the gone connection is still stored: %v", err)
	}

	// The other room got nothing: its next frame is one posted to it.
	conns, err := e.db.FindConnectionsByRoom(ctx, "elsewhere")
	if err != nil || len(conns) != 1 {
		t.Fatalf("connections of the other room: %v %v", conns, err)
	}
	if err := e.notifier.Post(ctx, conns[0].ID, []byte("direct")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, other); got != "direct" {
		t.Errorf("other room got %s before its own frame", got)
	}
}

func TestPresenceOnlyToConnectionsThatAskedForIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	plain := e.dial(t, "room", "plain")
	d, err := e.notifier.Broadcast(ctx, "room", chatapp.Push{Kind: chatapp.PushPresence, Data: []byte("presence")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Delivered != 0 || d.Failed != 0 || len(d.Connections) != 1 {
		t.Fatalf("delivery %+v, want nothing sent to the one connection", d)
	}
	conns, _ := e.db.FindConnectionsByRoom(ctx, "room")
	if err := e.notifier.Post(ctx, conns[0].ID, []byte("next")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, plain); got != "next" {
		t.Errorf("plain connection got %q first", got)
	}
}

func TestPostToGoneConnectionIsEGONE(t *testing.T) {
	e := newEnv(t)
	err := e.notifier.Post(context.Background(), "NoSuchConnecti=", []byte("x"))
	if chatapp.ErrorCode(err) != chatapp.EGONE {
		t.Fatalf("Post to an unknown connection: %v, want code gone", err)
	}
}

func TestEndpointFromContextWins(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, "room", "a")
	conns, _ := e.db.FindConnectionsByRoom(context.Background(), "room")
	// The notifier's own endpoint is wrong; the context names the right one,
	// as a WebSocket event does on Lambda.
	e.notifier.Endpoint = "http://127.0.0.1:1"
	ctx := apigw.ContextWithEndpoint(context.Background(), e.url)
	if err := e.notifier.Post(ctx, conns[0].ID, []byte("via context")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "via context" {
		t.Errorf("got %q", got)
	}
}

func TestEndpointFromEvent(t *testing.T) {
	got := apigw.EndpointFromEvent("abc123.execute-api.eu-west-1.amazonaws.com", "prod")
	if want := "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"; got != want {
		t.Errorf("EndpointFromEvent = %q, want %q", got, want)
	}
}

// TestThrottledPostsAreRetried stands in for API Gateway answering
// LimitExceededException (429), as it does when posts exceed the account's
// rate: the SDK's retryer, as awsconfig.Load configures it, retries
// with backoff until the post goes through.
func TestThrottledPostsAreRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("X-Amzn-ErrorType", "LimitExceededException")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message":"slow down"}`))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("AWS_REGION", "us-east-1")
	cfg, err := awsconfig.Load(context.Background(), dynamodb.ClientConfig{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	n := &apigw.Notifier{AWS: cfg, Endpoint: srv.URL, PostTimeout: 10 * time.Second}
	if err := n.Post(context.Background(), "AnyConnection0=", []byte("x")); err != nil {
		t.Fatalf("Post after two throttled attempts: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("%d attempts, want 3", got)
	}
}

// TestBroadcastReusesConnections: posts in flight at once never exceed the
// bound, and later broadcasts reuse the connections of the first instead
// of redialing (on AWS, a TLS handshake each). The SDK's default transport
// keeps 10 idle, so it would redial most of 64 at every round of posts.
func TestBroadcastReusesConnections(t *testing.T) {
	n, api := slowBroadcastNotifier(t, 300)
	n.Concurrency = 64
	broadcast := func() {
		d, err := n.Broadcast(context.Background(), "big", benchPush)
		if err != nil || d.Delivered != 300 {
			t.Fatalf("delivered %d, failed %d, %v", d.Delivered, d.Failed, err)
		}
	}
	for range 3 {
		broadcast()
	}
	if got := api.maxInFlight.Load(); got > 64 {
		t.Errorf("%d posts in flight, bound 64", got)
	}
	// A bound no scheduler can break: a post dials only when no connection
	// is idle, and an empty answer returns its connection to the pool
	// before the post returns its slot. So once 64 connections exist, a
	// post that gets a slot finds one of them idle (at most 63 others are in
	// flight), and the kept pool never drops below 64; the dials begun
	// before that are at most one per post in flight. With reuse, all
	// three broadcasts dial at most 2×64; without it (the SDK's 10 idle
	// connections), most of the 900 posts dial.
	if dials := api.dials.Load(); dials > 2*64 {
		t.Errorf("%d dials for 3 broadcasts of 300 posts, 64 at a time; want ≤ 128", dials)
	}
}

// TestYoungRowSurvivesA410: a 410 for a connection whose row is younger
// than $connect's timeout may come from one still connecting (API Gateway
// answers 410 until $connect returns): the row is kept. An old row's 410
// deletes it, as before.
func TestYoungRowSurvivesA410(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	young := &chatapp.Connection{ID: "YoungConnecti=", RoomID: "room", UserID: "new", Timestamp: time.Now().UnixMilli()}
	old := &chatapp.Connection{ID: "OldConnection=", RoomID: "room", UserID: "gone", Timestamp: time.Now().Add(-time.Minute).UnixMilli()}
	for _, c := range []*chatapp.Connection{young, old} {
		if err := e.db.CreateConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	d, err := e.notifier.Broadcast(ctx, "room", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{}`)})
	if err != nil || d.Failed != 2 {
		t.Fatalf("delivery %+v, %v: want both posts to fail (410)", d, err)
	}
	if _, err := e.db.FindConnection(ctx, young.ID); err != nil {
		t.Errorf("the row of a connection that may still be connecting was deleted: %v", err)
	}
	if _, err := e.db.FindConnection(ctx, old.ID); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("the old gone connection is still stored: %v", err)
	}
}

// TestGoneConnectionsLeaveIsAnnounced: the row a 410 removes is announced
// to its room as its $disconnect would have announced it: that
// $disconnect, racing the 410, finds no row and announces nothing.
func TestGoneConnectionsLeaveIsAnnounced(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	watcher := e.dial(t, "room&events=presence", "w")
	stale := &chatapp.Connection{ID: "StaleConnectio=", RoomID: "room", UserID: "ghost", Name: "Ghost", Timestamp: 1}
	if err := e.db.CreateConnection(ctx, stale, 0); err != nil {
		t.Fatal(err)
	}
	d, err := e.notifier.Broadcast(ctx, "room", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{"message":"hi"}`)})
	if err != nil || d.Delivered != 1 || d.Failed != 1 {
		t.Fatalf("delivery %+v, %v; want 1 delivered, 1 failed (410)", d, err)
	}
	if got := read(t, watcher); got != `{"message":"hi"}` {
		t.Fatalf("watcher got %s, want the message", got)
	}
	var leave chatapp.PresenceEvent
	if err := json.Unmarshal([]byte(read(t, watcher)), &leave); err != nil {
		t.Fatal(err)
	}
	if leave.Type != "leave" || leave.ConnectionID != stale.ID || leave.UserID != "ghost" || leave.Name != "Ghost" || leave.RoomID != "room" {
		t.Fatalf("watcher got %+v, want the leave of the gone connection", leave)
	}
	if _, err := e.db.FindConnection(ctx, stale.ID); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("the gone connection is still stored: %v", err)
	}
}
