package main

import (
	"bytes"
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
// its push reaches the client. DynamoDB propagates writes to a global
// secondary index after it acknowledges them and reads one only eventually
// consistently; DynamoDB Local's indexes are up to date at once, so the
// test puts a proxy before it whose index reads miss the items written in
// the last 30 s, as AWS's may.
func TestJustConnectedClientGetsEveryMessage(t *testing.T) {
	cfg := dynamoConfig(t)
	cfg.DynamoDB.Endpoint = laggingIndexes(t, cfg.DynamoDB.Endpoint, 30*time.Second)
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

// laggingIndexes starts a proxy to the DynamoDB endpoint whose Query of a
// global secondary index leaves out the items whose connection_id was
// written through it less than lag ago: an index that has not caught up.
// Reads of a table and its local indexes are untouched.
func laggingIndexes(t *testing.T, endpoint string, lag time.Duration) string {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		written = map[string]time.Time{} // connection_id → last write
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.Header.Get("X-Amz-Target"), ".Query") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err == nil && resp.Request.Header.Get("X-Chatapp-Index") != "" {
			items, _ := out["Items"].([]any)
			kept := []any{}
			mu.Lock()
			for _, it := range items {
				if at, ok := written[connectionID(it)]; ok && time.Since(at) < lag {
					continue
				}
				kept = append(kept, it)
			}
			mu.Unlock()
			out["Items"], out["Count"] = kept, len(kept)
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
			IndexName     string
			Item          map[string]any
			TransactItems []struct {
				Put *struct{ Item map[string]any }
			}
		}
		_ = json.Unmarshal(body, &in)
		if in.IndexName != "" {
			r.Header.Set("X-Chatapp-Index", in.IndexName)
		}
		now := time.Now()
		mu.Lock()
		for _, it := range append([]map[string]any{in.Item}, puts(in.TransactItems)...) {
			if id := connectionID(it); id != "" {
				written[id] = now
			}
		}
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func puts(items []struct {
	Put *struct{ Item map[string]any }
}) []map[string]any {
	var out []map[string]any
	for _, it := range items {
		if it.Put != nil {
			out = append(out, it.Put.Item)
		}
	}
	return out
}

// connectionID is the connection_id of an item in DynamoDB's JSON, or "".
func connectionID(item any) string {
	m, _ := item.(map[string]any)
	attr, _ := m["connection_id"].(map[string]any)
	s, _ := attr["S"].(string)
	return s
}
