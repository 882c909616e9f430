package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestJustConnectedClientGetsEveryMessage is the no-gap guarantee where it
// is hardest, on the AWS shape: functions under the Lambda runtime
// emulator push through the Management API to the room the table lists.
// A client connects ($connect has returned), reads the room's history (its
// catch-up) and then a message is sent: the message is in neither unless
// its push reaches the client. An eventually consistent read of DynamoDB
// (the default of GetItem, Query, Scan and BatchGetItem, and the only read
// of a global secondary index) may miss a write it acknowledged; DynamoDB
// Local's reads are all up to date at once, so the test puts a proxy
// before it whose reads without ConsistentRead miss the items written in
// the last 30 s, as AWS's may. The room listing must be a strongly
// consistent read of the table for the push to reach the client.
func TestJustConnectedClientGetsEveryMessage(t *testing.T) {
	cfg := dynamoConfig(t)
	cfg.DynamoDB.Endpoint = laggingReads(t, cfg.DynamoDB.Endpoint, 30*time.Second)
	cfg.Functions = "rie"
	cfg.RIE = RIEConfig{Binary: rieBinary(t), Bootstrap: bootstrapBinary(t)}
	cfg.FunctionLogs = &testLogWriter{t: t}
	s := startServer(t, cfg)

	for i := range 3 {
		room := "nogap-" + strconv.Itoa(i)
		c := dial(t, s.URL, "joiner", originalQuery("joiner", room))
		if h := getHistory(t, s.URL, "room_id="+room); len(h.Messages) != 0 {
			t.Fatalf("catch-up of a new room holds %d messages", len(h.Messages))
		}
		sent, _ := putMessage(t, s.URL, room, "sender", "Sender", "after the catch-up")["message"].(map[string]any)
		if got := c.nextMessage(); got.ID != sent["id"] {
			t.Fatalf("push %s, want the message sent after the catch-up, %v", got.ID, sent["id"])
		}
		c.close()
	}
}

// eventualKey marks a request's context with the tables it reads
// eventually consistently, for the proxy's response to filter.
type eventualKey struct{}

// laggingReads starts a proxy to the DynamoDB endpoint whose eventually
// consistent reads (GetItem, Query, Scan, and BatchGetItem per table,
// without ConsistentRead) leave out the items written through it less than
// lag ago (PutItem, UpdateItem, a transaction's Put and Update), as a read
// that has not caught up may. Strongly consistent reads are untouched.
func laggingReads(t *testing.T, endpoint string, lag time.Duration) string {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		written = map[string]time.Time{} // itemKey → last write
	)
	recent := func(table string, item any) bool {
		at, ok := written[itemKey(table, item)]
		return ok && time.Since(at) < lag
	}
	caughtUp := func(table string, items any) []any {
		kept := []any{}
		for _, it := range asList(items) {
			if !recent(table, it) {
				kept = append(kept, it)
			}
		}
		return kept
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		eventual, _ := resp.Request.Context().Value(eventualKey{}).(map[string]bool)
		if len(eventual) == 0 || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err == nil {
			mu.Lock()
			for table := range eventual {
				if items, ok := out["Items"]; ok { // Query, Scan
					kept := caughtUp(table, items)
					out["Items"], out["Count"] = kept, len(kept)
				}
				if item, ok := out["Item"]; ok && recent(table, item) { // GetItem
					delete(out, "Item")
				}
				if responses, ok := out["Responses"].(map[string]any); ok { // BatchGetItem
					if items, ok := responses[table]; ok {
						responses[table] = caughtUp(table, items)
					}
				}
			}
			mu.Unlock()
			body, _ = json.Marshal(out)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Del("X-Amz-Crc32")
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Del("Accept-Encoding") // the response is read here, plain
		var in struct {
			TableName      string
			ConsistentRead bool
			Item, Key      map[string]any
			RequestItems   map[string]struct{ ConsistentRead bool }
			TransactItems  []struct {
				Put, Update *struct {
					TableName string
					Item, Key map[string]any
				}
			}
		}
		_ = json.Unmarshal(body, &in)
		op := r.Header.Get("X-Amz-Target")
		op = op[strings.LastIndex(op, ".")+1:]
		eventual := map[string]bool{}
		now := time.Now()
		mu.Lock()
		switch op {
		case "GetItem", "Query", "Scan":
			if !in.ConsistentRead {
				eventual[in.TableName] = true
			}
		case "BatchGetItem":
			for table, keys := range in.RequestItems {
				if !keys.ConsistentRead {
					eventual[table] = true
				}
			}
		case "PutItem":
			written[itemKey(in.TableName, in.Item)] = now
		case "UpdateItem":
			written[itemKey(in.TableName, in.Key)] = now
		case "TransactWriteItems":
			for _, it := range in.TransactItems {
				if it.Put != nil {
					written[itemKey(it.Put.TableName, it.Put.Item)] = now
				}
				if it.Update != nil {
					written[itemKey(it.Update.TableName, it.Update.Key)] = now
				}
			}
		}
		mu.Unlock()
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), eventualKey{}, eventual)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// itemKey names an item of chatapp's tables in DynamoDB's JSON by its
// table and key: room_id and connection_id (connections) or id (messages).
func itemKey(table string, item any) string {
	m, _ := item.(map[string]any)
	key := table
	for _, name := range []string{"room_id", "connection_id", "id"} {
		attr, _ := m[name].(map[string]any)
		s, _ := attr["S"].(string)
		key += "\x00" + s
	}
	return key
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
