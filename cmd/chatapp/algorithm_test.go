// TestClientAlgorithm: the scenario of docs/protocol.md's "client
// algorithm", run against each client (the Go client here, the web page in
// algorithm_browser_test.go, the Unity package in algorithm_unity_test.go).

package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/client"
)

// algorithmClient is one client under the scenario, as its driver sees it.
type algorithmClient interface {
	// delivered returns the messages the client has delivered so far,
	// each as often as it delivered it, in the order it did (the web
	// page: the messages its list shows, top to bottom). The first
	// page's messages count as delivered.
	delivered(t *testing.T) []deliveredMessage
	// sendSocket sends text as the client's own socket send does (it
	// waits until the client is connected first). It returns once the
	// frame is on its way, not when it is confirmed.
	sendSocket(t *testing.T, text string)
}

// deliveredMessage is a message as a client delivered it.
type deliveredMessage struct{ ID, Text string }

// startAlgorithmClient joins room as user "ada" through the server at base
// (http://127.0.0.1:PORT), and returns once the client is connected.
type startAlgorithmClient func(t *testing.T, base, room string) algorithmClient

// algorithmAway is how many messages of 16 KiB are stored while the
// client is away: more than one catch-up page (1 MiB).
const algorithmAway = 70

// runClientAlgorithm is the scenario. The clients reach the server through
// a proxy (wsProxy) that stays up while the server restarts, and that can
// lose one direction of their WebSockets.
//
//  1. Three messages from a minute ago are the room's past: the first
//     page. Bob's "m1" is pushed live.
//  2. The server stops. Meanwhile a message is committed with an id 3 s
//     older than m1's, as on AWS when two Lambda instances' sends commit
//     out of id order, and 70 messages of 16 KiB (two catch-up pages).
//     The server starts again: the client catches up, the late message
//     included (the overlap), and pages with has_more.
//  3. A socket send whose frame is lost on the way: the client sends it
//     again by PUT once its socket drops, and it is stored once. Bob's
//     "back" shows the client connected again.
//  4. A socket send stored by the server whose push back is lost: the
//     PUT under the same key is a replay, and it is stored once.
//  5. Bob's "last" is pushed. Every message of the room has been
//     delivered exactly once, and in id order but for the late one.
func runClientAlgorithm(t *testing.T, start startAlgorithmClient) {
	const room = "algorithm"
	dir := t.TempDir()
	past := time.Now().Add(-time.Minute)
	seed(t, dir,
		seeded(room, "bob", "Bob", "past 1", past),
		seeded(room, "bob", "Bob", "past 2", past.Add(time.Second)),
		seeded(room, "bob", "Bob", "past 3", past.Add(2*time.Second)))
	srv := startServer(t, ServeConfig{DataDir: dir})
	proxy := newWSProxy(t, srv.URL)
	c := start(t, proxy.URL, room)
	waitDelivered(t, c, "the first page", "past 1", "past 2", "past 3")

	m1 := putMessage(t, srv.URL, room, "bob", "Bob", "m1")
	waitDelivered(t, c, "a push", "m1")

	// 2. Away: a late commit and two pages.
	srv.close(t)
	id, err := ulid.ParseStrict(m1["message"].(map[string]any)["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	late := seeded(room, "carol", "Carol", "late", time.UnixMilli(int64(id.Time())).Add(-3*time.Second))
	away := []*chatapp.Message{late}
	for i := range algorithmAway {
		text := fmt.Sprintf("away %02d ", i)
		away = append(away, seeded(room, "bob", "Bob", text+strings.Repeat("x", chatapp.MaxMessageBytes-len(text)), time.Now()))
	}
	seed(t, dir, away...)
	srv = startServer(t, ServeConfig{DataDir: dir})
	proxy.retarget(srv.URL)
	waitDelivered(t, c, "the catch-up", "late", "away 00 ", fmt.Sprintf("away %02d ", algorithmAway-1))

	// 3. A frame lost on its way up.
	proxy.lose(lossUp)
	c.sendSocket(t, "lost frame")
	proxy.waitLost(t, lossUp, len(`{"action":"sendmessage","text":"lost frame"}`))
	proxy.cut()
	waitDelivered(t, c, "the send of a lost frame", "lost frame")
	// Connected again before step 4 loses pushes: a client may show its
	// PUT's answer before its socket is back, and a handshake whose answer
	// is lost never connects. A push, or a catch-up, needs the socket.
	putMessage(t, srv.URL, room, "bob", "Bob", "back")
	waitDelivered(t, c, "a push after the cut", "back")

	// 4. A push lost on its way down.
	proxy.lose(lossDown)
	c.sendSocket(t, "lost push")
	eventually(t, "the socket send stored", func() bool {
		return slices.Contains(historyTexts(getHistory(t, srv.URL, "room_id="+room)), "lost push")
	})
	proxy.cut()
	waitDelivered(t, c, "the send whose push was lost", "lost push")

	putMessage(t, srv.URL, room, "bob", "Bob", "last")
	waitDelivered(t, c, "the last push", "last")
	checkDeliveredOnce(t, c, srv.URL, room, late.ID)
}

// waitDelivered waits until the client has delivered a message beginning
// with each of texts.
func waitDelivered(t *testing.T, c algorithmClient, what string, texts ...string) {
	t.Helper()
	eventually(t, what, func() bool {
		got := c.delivered(t)
		for _, want := range texts {
			if !slices.ContainsFunc(got, func(m deliveredMessage) bool { return strings.HasPrefix(m.Text, want) }) {
				return false
			}
		}
		return true
	})
}

// checkDeliveredOnce: the client delivered every message of the room's
// history exactly once, and in id order, but for the late message, whose
// id is older than one delivered before it was committed.
func checkDeliveredOnce(t *testing.T, c algorithmClient, base, room, lateID string) {
	t.Helper()
	var want []string
	for _, m := range allHistory(t, base, room) {
		want = append(want, m.ID)
	}
	got := c.delivered(t)
	var ids []string
	counts := map[string]int{}
	for _, m := range got {
		counts[m.ID]++
		if m.ID != lateID {
			ids = append(ids, m.ID)
		}
	}
	for id, n := range counts {
		if n > 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}
	for _, id := range want {
		if counts[id] == 0 {
			t.Errorf("message %s of the history never delivered", id)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("delivered %d distinct messages, the history holds %d", len(counts), len(want))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("delivered out of id order (the late message aside):\n%s", deliveredTexts(got))
	}
	if len(want) != 3+1+1+algorithmAway+4 {
		t.Errorf("the history holds %d messages, want %d: %q", len(want), 3+1+1+algorithmAway+4, deliveredTexts(got))
	}
}

// allHistory reads a room's whole history, following next_cursor.
func allHistory(t *testing.T, base, room string) []message {
	t.Helper()
	var out []message
	q := "room_id=" + room + "&limit=1000"
	for {
		h := getHistory(t, base, q)
		out = append(h.Messages, out...)
		if h.NextCursor == "" {
			return out
		}
		q = "room_id=" + room + "&limit=1000&cursor=" + h.NextCursor
	}
}

func deliveredTexts(ms []deliveredMessage) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %.10q\n", m.ID, m.Text)
	}
	return b.String()
}

// TestClientAlgorithm runs the scenario against the Go client; the web
// page's and Unity's runs are TestBrowserClientAlgorithm and
// TestUnityClientAlgorithm.
func TestClientAlgorithm(t *testing.T) {
	t.Parallel() // its own server
	runClientAlgorithm(t, startGoClient)
}

// goAlgorithmClient drives a client.Client.
type goAlgorithmClient struct {
	c *client.Client
	r *recorder
}

func startGoClient(t *testing.T, base, room string) algorithmClient {
	c := dialClient(t, base, client.Config{Room: room, UserID: "ada", Name: "Ada", Backlog: 50})
	return &goAlgorithmClient{c: c, r: record(t, "ada", c)}
}

func (g *goAlgorithmClient) delivered(*testing.T) []deliveredMessage {
	var out []deliveredMessage
	for _, m := range messagesOf(g.r.snapshot()) {
		out = append(out, deliveredMessage{m.ID, m.Text})
	}
	return out
}

func (g *goAlgorithmClient) sendSocket(t *testing.T, text string) {
	t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	for {
		err := g.c.SendWS(ctx, text)
		if err == nil {
			return
		}
		if !errors.Is(err, client.ErrNotConnected) || ctx.Err() != nil {
			t.Fatalf("SendWS %q: %v", text, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
