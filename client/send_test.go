package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestSendRetryAfter: a 429's Retry-After is waited before the next try
// (under one key); one longer than MaxBackoff (the user's send rate,
// minutes away) fails the send at once, with the server's error.
func TestSendRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		wantPuts   int32
		wantErr    bool
		minTook    time.Duration
	}{
		{"within the cap: waited, then sent", "1", 2, false, time.Second},
		{"past the cap: fails at once", "3600", 1, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var puts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if puts.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					w.WriteHeader(http.StatusTooManyRequests)
					w.Write([]byte(`{"error":{"code":"rate_limited","message":"too many messages"}}`))
					return
				}
				w.Write([]byte(`{"message":{"id":"01KAZ3F4J7Q9V2C8N6M5T0R1WX","room_id":"r","message":"hi","user_id":"u"}}`))
			}))
			defer srv.Close()
			api, ws := LocalURLs(srv.URL)
			cfg := Config{APIURL: api, WebSocketURL: ws, Room: "r", UserID: "u", MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Second}
			if err := cfg.check(); err != nil {
				t.Fatal(err)
			}
			c := &Client{cfg: cfg, http: srv.Client(), log: cfg.Logger}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.Send(ctx, "hi")
			took := time.Since(start)
			var e *Error
			if tc.wantErr != (err != nil) || (err != nil && (!errors.As(err, &e) || e.StatusCode != http.StatusTooManyRequests)) {
				t.Fatalf("Send: %v, want an error: %v (a 429)", err, tc.wantErr)
			}
			if n := puts.Load(); n != tc.wantPuts {
				t.Errorf("%d PUTs, want %d", n, tc.wantPuts)
			}
			if took < tc.minTook || (tc.wantErr && took > time.Second) {
				t.Errorf("took %v", took)
			}
		})
	}
}
