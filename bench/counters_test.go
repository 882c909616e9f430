package bench

import (
	"context"
	"net/http"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp/internal/natslocal"
)

// TestReadVarzOfARealServer: the counters read from a real nats-server's
// /varz (its field names are the server's, not ours) count the messages
// a client published.
func TestReadVarzOfARealServer(t *testing.T) {
	srv := natslocal.Start(t)
	var before NATSCounters
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if before, err = readVarz(context.Background(), http.DefaultClient, srv.MonitorURL); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read /varz: %v", err)
		}
	}
	nc, err := natsgo.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for range 3 {
		if err := nc.Publish("bench.varz", []byte("12345")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	after, err := readVarz(context.Background(), http.DefaultClient, srv.MonitorURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.InMsgs - before.InMsgs; got != 3 {
		t.Errorf("in_msgs went up by %d, want 3 (before %+v, after %+v)", got, before, after)
	}
	if got := after.InBytes - before.InBytes; got != 15 {
		t.Errorf("in_bytes went up by %d, want 15", got)
	}
}
