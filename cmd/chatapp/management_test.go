package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/dynamodb"
	"github.com/chatapp-dev/chatapp/internal/awsconfig"
	"github.com/chatapp-dev/chatapp/postgres"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// signedDo is do for the Management API: the request is signed (Signature
// Version 4) with the server's management credentials, as the functions'
// SDK client signs it. body may be nil, a string or a []byte.
func signedDo(t testing.TB, s *testServer, method, rawURL string, body any, header map[string]string) response {
	t.Helper()
	return signedDoWith(t, s.gateway.ManagementCredentials(), method, rawURL, body, header)
}

func signedDoWith(t testing.TB, creds aws.Credentials, method, rawURL string, body any, header map[string]string) response {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		t.Fatalf("signedDo: body of type %T", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	hash := sha256.Sum256(data)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(hash[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// TestManagementAPIRequiresSignature: a local process that is not one of
// the gateway's functions cannot push to a live connection, while the
// functions' own signed pushes (a send, under the emulator) still arrive.
func TestManagementAPIRequiresSignature(t *testing.T) {
	forEachBackend(t, testManagementAPIRequiresSignature)
}

func testManagementAPIRequiresSignature(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	c := dial(t, s.URL, "target", originalQuery("t", "signed"))
	users := getUsers(t, s.URL, "signed")
	if len(users) != 1 {
		t.Fatalf("users %+v", users)
	}
	connURL := s.URL + "/@connections/" + url.PathEscape(users[0].ConnectionID)

	forged := s.gateway.ManagementCredentials()
	forged.SecretAccessKey = "guessed"
	for _, attempt := range []struct {
		name    string
		r       response
		errType string
	}{
		{"unsigned", do(t, http.MethodPost, connURL, `{"forged":"unsigned"}`, nil), "ForbiddenException"},
		{"wrong secret", signedDoWith(t, forged, http.MethodPost, connURL, `{"forged":"secret"}`, nil), "InvalidSignatureException"},
		{"unsigned DELETE", do(t, http.MethodDelete, connURL, nil, nil), "ForbiddenException"},
	} {
		if attempt.r.Status != http.StatusForbidden || attempt.r.Header.Get("X-Amzn-ErrorType") != attempt.errType {
			t.Errorf("%s: %d X-Amzn-ErrorType=%q %s, want 403 %s", attempt.name, attempt.r.Status, attempt.r.Header.Get("X-Amzn-ErrorType"), attempt.r.Body, attempt.errType)
		}
		var body map[string]any
		decodeJSON(t, attempt.r.Body, &body)
		checkKeys(t, attempt.name+" body", body, "message")
	}

	// Nothing was delivered and the socket is open: the first frame it
	// reads is the next message of its room.
	putMessage(t, s.URL, "signed", "x", "X", "after the forgeries")
	if m := c.nextMessage(); m.Text != "after the forgeries" {
		t.Errorf("target got %+v first", m)
	}
	if r := signedDo(t, s, http.MethodGet, connURL, nil, nil); r.Status != http.StatusOK {
		t.Errorf("signed GET @connections: %d %s", r.Status, r.Body)
	}
}

// connectionStore opens the connections table of a server started with
// cfg, beside the server, as a crashed earlier run left it.
func connectionStore(t *testing.T, cfg ServeConfig) chatapp.ConnectionStore {
	t.Helper()
	ctx := t.Context()
	if cfg.Store == "dynamodb" {
		client, err := awsconfig.NewDynamoDBClient(ctx, dynamodb.ClientConfig{Endpoint: cfg.DynamoDB.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		db := dynamodb.New(client, dynamodb.Config{MessagesTable: cfg.DynamoDB.MessagesTable, ConnectionsTable: cfg.DynamoDB.ConnectionsTable})
		if err := db.CreateTables(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	if cfg.Store == "postgres" {
		db, err := postgres.Open(ctx, cfg.PostgresURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func staleConnection(room string, connectedAt time.Time) *chatapp.Connection {
	return &chatapp.Connection{ID: rand.Text()[:15] + "=", RoomID: room, UserID: "ghost", Name: "Ghost", Timestamp: connectedAt.UnixMilli()}
}

func isStored(t *testing.T, store chatapp.ConnectionStore, id string) bool {
	t.Helper()
	_, err := store.FindConnection(t.Context(), id)
	if err != nil && chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

// TestStaleConnectionsSwept writes connection rows without a socket into a
// running server's store, as a crash leaves them, and sees the sweeper
// delete them once they are older than the grace period, while the row of
// a live connection stays and a send lists only it.
func TestStaleConnectionsSwept(t *testing.T) { forEachBackend(t, testStaleConnectionsSwept) }

func testStaleConnectionsSwept(t *testing.T, cfg ServeConfig) {
	const grace = 2 * time.Second
	cfg.DataDir = t.TempDir()
	cfg.SweepInterval, cfg.SweepGrace = 50*time.Millisecond, grace
	s := startServer(t, cfg)
	store := connectionStore(t, cfg)
	ctx := t.Context()

	live := dial(t, s.URL, "live", originalQuery("alive", "swept"))
	users := getUsers(t, s.URL, "swept")
	if len(users) != 1 {
		t.Fatalf("users %+v", users)
	}
	liveID := users[0].ConnectionID
	old := []*chatapp.Connection{staleConnection("swept", time.Now().Add(-time.Hour)), staleConnection("elsewhere", time.Now().Add(-time.Hour))}
	young := staleConnection("swept", time.Now())
	for _, c := range append(old, young) {
		if err := store.CreateConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The grace counts from the row's own timestamp, set before the three
	// writes (which may take a while on DynamoDB Local).
	youngAt := time.UnixMilli(young.Timestamp)

	eventually(t, "the old stale rows are swept", func() bool {
		return !isStored(t, store, old[0].ID) && !isStored(t, store, old[1].ID)
	})
	if time.Since(youngAt) < grace/2 && !isStored(t, store, young.ID) {
		t.Errorf("a row %v old was swept, within the grace period of %v", time.Since(youngAt), grace)
	}
	eventually(t, "the young stale row is swept after the grace period", func() bool { return !isStored(t, store, young.ID) })
	if time.Since(youngAt) < grace {
		t.Errorf("the young row was swept %v after it was written, before the grace period of %v", time.Since(youngAt), grace)
	}
	// By now the live row is older than the grace period too.
	if !isStored(t, store, liveID) {
		t.Fatal("the live connection's row was swept")
	}

	out := putMessage(t, s.URL, "swept", "x", "X", "after the sweep")
	var sent struct {
		Users []user `json:"users"`
	}
	if err := json.Unmarshal([]byte(mustJSON(t, out)), &sent); err != nil {
		t.Fatal(err)
	}
	if len(sent.Users) != 1 || sent.Users[0].ConnectionID != liveID {
		t.Errorf("send listed users %+v, want only the live connection %s", sent.Users, liveID)
	}
	if m := live.nextMessage(); m.Text != "after the sweep" {
		t.Errorf("live connection got %+v", m)
	}
	if users := getUsers(t, s.URL, "swept"); len(users) != 1 || users[0].ConnectionID != liveID {
		t.Errorf("/chat/users %+v, want only the live connection", users)
	}
}

// TestStaleConnectionsSweptAtStart: rows that an earlier run left in
// DynamoDB are gone as soon as the server has started.
func TestStaleConnectionsSweptAtStart(t *testing.T) {
	cfg := dynamoConfig(t)
	store := connectionStore(t, cfg)
	stale := staleConnection("start", time.Now().Add(-time.Hour))
	young := staleConnection("start", time.Now())
	for _, c := range []*chatapp.Connection{stale, young} {
		if err := store.CreateConnection(t.Context(), c, 0); err != nil {
			t.Fatal(err)
		}
	}
	cfg.SweepInterval = time.Hour // only the sweep at start runs
	s := startServer(t, cfg)
	if isStored(t, store, stale.ID) {
		t.Error("a stale row is still stored after the start")
	}
	if !isStored(t, store, young.ID) {
		t.Error("a row younger than the grace period was swept at start")
	}
	if users := getUsers(t, s.URL, "start"); len(users) != 1 || users[0].ConnectionID != young.ID {
		t.Errorf("/chat/users %+v, want only the young row", users)
	}
}
