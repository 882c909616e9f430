package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// waitTimeout bounds each wait of these tests: a dial, a frame.
const waitTimeout = 5 * time.Second

// storeAndJoin is what $connect does with a connection: store its row,
// then tell the hub its room.
func storeAndJoin(ctx context.Context, db *sqlite.DB, sockets *hub.Hub, c *chatapp.Connection) error {
	if err := db.CreateConnection(ctx, c, 0); err != nil {
		return err
	}
	sockets.Joined(c)
	return nil
}

// The sweeper removes old rows without a socket, and spares the row of an
// open socket however old it is and a young row without one.
func TestSweepConnections(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	sockets := hub.New(nil)
	gw := gateway.New(gateway.Config{Hub: sockets, WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			c := &chatapp.Connection{ID: ev.RequestContext.ConnectionID, RoomID: "r", UserID: "live", Timestamp: hourAgo}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, storeAndJoin(ctx, db, sockets, c)
		},
	}})
	srv := httptest.NewServer(gw)
	defer func() { srv.Close(); gw.Close() }()
	dialCtx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	live, _, err := websocket.Dial(dialCtx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.CloseNow()

	stale := &chatapp.Connection{ID: "StaleConnectio=", RoomID: "r", UserID: "ghost", Timestamp: hourAgo}
	young := &chatapp.Connection{ID: "YoungConnectio=", RoomID: "r", UserID: "new", Timestamp: time.Now().UnixMilli()}
	for _, c := range []*chatapp.Connection{stale, young} {
		if err := db.CreateConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}

	removed, err := sockets.SweepConnections(ctx, db, sockets, time.Minute)
	if err != nil || removed != 1 {
		t.Fatalf("SweepConnections = %d, %v; want 1 removed", removed, err)
	}
	conns, err := db.FindConnectionsByRoom(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, c := range conns {
		users = append(users, c.UserID)
	}
	if strings.Join(users, ",") != "live,new" {
		t.Fatalf("rows left: %v, want live,new", users)
	}
	if removed, err := sockets.SweepConnections(ctx, db, sockets, 0); err != nil || removed != 1 {
		t.Fatalf("SweepConnections without grace = %d, %v; want the young row removed", removed, err)
	}
}

// TestSweepAnnouncesLeave: a row the sweep removes is announced to its
// room through the notifier it is given, as a $disconnect's would be: the
// sweep is one of the deletes that may win the race for a row, and the
// one that wins announces.
func TestSweepAnnouncesLeave(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sockets := hub.New(nil)
	gw := gateway.New(gateway.Config{Hub: sockets, WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			c := &chatapp.Connection{ID: ev.RequestContext.ConnectionID, RoomID: "r", UserID: "watcher", Timestamp: time.Now().UnixMilli(), Presence: true}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, storeAndJoin(ctx, db, sockets, c)
		},
	}})
	srv := httptest.NewServer(gw)
	defer func() { srv.Close(); gw.Close() }()
	dialCtx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	watcher, _, err := websocket.Dial(dialCtx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.CloseNow()
	stale := &chatapp.Connection{ID: "StaleConnectio=", RoomID: "r", UserID: "ghost", Name: "Ghost", Timestamp: time.Now().Add(-time.Hour).UnixMilli()}
	if err := db.CreateConnection(ctx, stale, 0); err != nil {
		t.Fatal(err)
	}

	if removed, err := sockets.SweepConnections(ctx, db, sockets, time.Minute); err != nil || removed != 1 {
		t.Fatalf("SweepConnections = %d, %v; want 1 removed", removed, err)
	}
	_, data, err := watcher.Read(dialCtx)
	if err != nil {
		t.Fatalf("the watcher heard nothing: %v", err)
	}
	var leave chatapp.PresenceEvent
	if err := json.Unmarshal(data, &leave); err != nil {
		t.Fatal(err)
	}
	if leave.Type != "leave" || leave.ConnectionID != stale.ID || leave.UserID != "ghost" || leave.Name != "Ghost" || leave.RoomID != "r" {
		t.Fatalf("the watcher got %s, want the leave of the swept row", data)
	}
	// A second sweep finds nothing to remove, and announces nothing.
	if removed, err := sockets.SweepConnections(ctx, db, sockets, time.Minute); err != nil || removed != 0 {
		t.Fatalf("second SweepConnections = %d, %v; want none removed", removed, err)
	}
}

// TestSweepSparesClosingSocket: a socket that is closing is still the
// hub's until its $disconnect has run, so the sweep leaves its row to
// that $disconnect (which announces the leave) however old the row is.
func TestSweepSparesClosingSocket(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	disconnecting, release := make(chan struct{}), make(chan struct{})
	sockets := hub.New(nil)
	gw := gateway.New(gateway.Config{Hub: sockets, WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			c := &chatapp.Connection{ID: ev.RequestContext.ConnectionID, RoomID: "r", UserID: "u", Timestamp: time.Now().Add(-time.Hour).UnixMilli()}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, storeAndJoin(ctx, db, sockets, c)
		},
		"$disconnect": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			close(disconnecting)
			<-release
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}})
	srv := httptest.NewServer(gw)
	defer func() { srv.Close(); gw.Close() }()
	dialCtx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(dialCtx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	select {
	case <-disconnecting:
	case <-time.After(waitTimeout):
		t.Fatal("$disconnect did not run")
	}
	removed, err := sockets.SweepConnections(ctx, db, sockets, 0)
	close(release)
	if err != nil || removed != 0 {
		t.Fatalf("SweepConnections while $disconnect runs = %d, %v; want the row left to $disconnect", removed, err)
	}
}
