// Attacks on a connection's frames in flight (issue 14): the order a
// client sees its pushes and error frames in.

package gateway_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// slowCommits holds each queued message's commit until released, or for
// 200 ms: long enough for a later frame's answer to overtake it, if it
// could, and a bound, since the fixed gateway holds that answer back
// until the commit.
type slowCommits struct {
	*sqlite.DB
	release chan struct{}
	once    sync.Once
}

func (s *slowCommits) QueueMessage(ctx context.Context, m *chatapp.Message) (func() error, error) {
	wait, err := s.DB.QueueMessage(ctx, m)
	if err != nil {
		return nil, err
	}
	return func() error {
		select {
		case <-s.release:
		case <-time.After(200 * time.Millisecond): // a refusal that overtakes comes sooner
		}
		return wait()
	}, nil
}

// TestARefusalComesAfterTheEarlierSendsPush: a client writes a valid send
// and then a frame the function refuses. An error frame names no send:
// the client (client/outbox.go answered) settles its oldest waiting send
// with it. The valid send's push must therefore reach the sender before
// the later frame's refusal, as it did when frames were read one at a
// time; with frames in flight the refusal overtakes the push, and the
// client takes the stored message for refused.
func TestARefusalComesAfterTheEarlierSendsPush(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openStore(t)
	store := &slowCommits{DB: db, release: make(chan struct{})}
	url := serveChat(t, &handler.Handler{Messages: store, Connections: db})
	t.Cleanup(func() { store.once.Do(func() { close(store.release) }) })
	sender, _, err := websocket.Dial(ctx, url+"sender", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.CloseNow()
	writeFrames(ctx, t, sender,
		`{"action":"sendmessage","text":"stored","idempotency_key":"k1"}`,
		`{"action":"sendmessage","text":1}`) // refused: not a JSON object of strings
	got := readFrames(ctx, t, sender, 2, func() { store.once.Do(func() { close(store.release) }) })
	if !strings.Contains(got[0], `"stored"`) {
		t.Fatalf("the sender got %q: the later frame's refusal came before the earlier send's push (the client settles its oldest send, the stored one, with it)", got)
	}
}

// oneSend allows each user one send.
type oneSend struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (l *oneSend) Allow(user string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[user] {
		return false, time.Minute
	}
	l.seen[user] = true
	return true, 0
}

// TestARetryPastTheRateGetsItsReplay: a send past the user's rate that
// repeats the idempotency key of the connection's send before it gets its
// replay, not rate_limited (handler.replayPastLimit: "that one gets its
// replay, as within the limit"), as it did when the frame before had been
// committed by the time the next was read. With frames in flight the
// retry's lookup runs while the first is placed but not yet committed,
// finds nothing, and answers rate_limited.
func TestARetryPastTheRateGetsItsReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openStore(t)
	store := &slowCommits{DB: db, release: make(chan struct{})}
	url := serveChat(t, &handler.Handler{Messages: store, Connections: db, SendLimiter: &oneSend{seen: map[string]bool{}}})
	t.Cleanup(func() { store.once.Do(func() { close(store.release) }) })
	sender, _, err := websocket.Dial(ctx, url+"sender", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.CloseNow()
	const frame = `{"action":"sendmessage","text":"once","idempotency_key":"k1"}`
	for range 2 {
		if err := sender.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	_, b, err := sender.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store.once.Do(func() { close(store.release) })
	if !strings.Contains(string(b), `"once"`) {
		t.Fatalf("the sender got %s first, want the push of its send (the retry is a replay: no frame)", b)
	}
	// The retry answers nothing; a later frame's refusal comes next.
	if err := sender.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err = sender.Read(ctx); err != nil || !strings.Contains(string(b), `"invalid"`) {
		t.Fatalf("after the push: %s (%v), want the refusal of the last frame (the retry was answered %s)", b, err, b)
	}
}
