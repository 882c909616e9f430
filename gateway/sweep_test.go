package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/sqlite"
)

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
	var gw *gateway.Gateway
	gw = gateway.New(gateway.Config{WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			c := &chatapp.Connection{ID: ev.RequestContext.ConnectionID, RoomID: "r", UserID: "live", Timestamp: hourAgo}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, gw.Hub().TrackConnections(db).CreateConnection(ctx, c, 0)
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

	removed, err := gw.Hub().SweepConnections(ctx, db, time.Minute)
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
	if removed, err := gw.Hub().SweepConnections(ctx, db, 0); err != nil || removed != 1 {
		t.Fatalf("SweepConnections without grace = %d, %v; want the young row removed", removed, err)
	}
}
