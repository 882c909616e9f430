package hub

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatapp-dev/chatapp"
)

// writeCounter is the server's end of a connection that counts the
// writes made to it.
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes++
	w.mu.Unlock()
	return w.Conn.Write(p)
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}

// pipedMember opens a client of h joined to room as id, whose writer
// writes to a pipe: it returns the counter of the writes and the pipe's
// far end, to read the frames from.
func pipedMember(t *testing.T, h *Hub, id, room string, presence bool) (*writeCounter, net.Conn) {
	t.Helper()
	c := h.Open(id, Peer{})
	c.Accept()
	server, client := net.Pipe()
	counter := &writeCounter{Conn: server}
	c.writer.attach(counter)
	h.Joined(&chatapp.Connection{ID: id, RoomID: room, Presence: presence})
	t.Cleanup(func() { c.Close(DisconnectNormal); server.Close(); client.Close(); c.Forget() })
	return counter, client
}

// readTexts reads n text frames from conn.
func readTexts(t *testing.T, conn net.Conn, n int) []string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	var texts []string
	for range n {
		b, op, err := wsutil.ReadServerData(conn)
		if err != nil || op != ws.OpText {
			t.Fatalf("after %q: frame %v, %v", texts, op, err)
		}
		texts = append(texts, string(b))
	}
	return texts
}

// TestBroadcastBatchOneWriteEach: a batch reaches each member in one
// write, its pushes in order, each push only where its kind is wanted and
// not to the connection it skips; the deliveries count each push's
// members, and list the room once for all.
func TestBroadcastBatchOneWriteEach(t *testing.T) {
	h := New(nil)
	plain, plainEnd := pipedMember(t, h, "plain=", "r", false)
	watcher, watcherEnd := pipedMember(t, h, "watcher=", "r", true)
	pipedMember(t, h, "elsewhere=", "other", true)
	pushes := []chatapp.Push{
		{Kind: chatapp.PushMessage, Data: []byte("m1")},
		{Kind: chatapp.PushPresence, Data: []byte("join")},
		{Kind: chatapp.PushMessage, Data: []byte("m2"), Except: "watcher="},
		{Kind: chatapp.PushMessage, Data: []byte("m3")},
	}
	// The pipe's writes block until read: read while the batch goes out.
	got := make(chan []string, 2)
	go func() { got <- readTexts(t, plainEnd, 3) }()
	go func() { got <- readTexts(t, watcherEnd, 3) }()
	ds, err := h.BroadcastBatch(context.Background(), "r", pushes)
	if err != nil {
		t.Fatal(err)
	}
	texts := [][]string{<-got, <-got}
	slices.SortFunc(texts, func(a, b []string) int { return len(a[1]) - len(b[1]) })
	if want := [][]string{{"m1", "m2", "m3"}, {"m1", "join", "m3"}}; !slices.EqualFunc(texts, want, slices.Equal) {
		t.Errorf("the members read %q, want %q", texts, want)
	}
	if plain.count() != 1 || watcher.count() != 1 {
		t.Errorf("writes: %d and %d, want one each", plain.count(), watcher.count())
	}
	for i, want := range []int{2, 1, 1, 2} {
		if ds[i].Delivered != want || ds[i].Failed != 0 || len(ds[i].Connections) != 2 {
			t.Errorf("push %d: delivered %d, failed %d, listed %d; want %d, 0, 2", i, ds[i].Delivered, ds[i].Failed, len(ds[i].Connections), want)
		}
	}
}

// TestBroadcastBatchPastTheQueueDropsAll: a batch that would overflow a
// member's queue is queued for none of its pushes there (the member is
// dropped as a slow consumer), and counted failed for each.
func TestBroadcastBatchPastTheQueueDropsAll(t *testing.T) {
	h := New(nil)
	c := h.Open("slow=", Peer{})
	c.Accept() // never attached: nothing is written, the queue fills
	h.Joined(&chatapp.Connection{ID: "slow=", RoomID: "r"})
	t.Cleanup(func() { c.Close(DisconnectNormal); c.Forget() })
	for range maxQueuedFrames - 2 {
		if !c.Enqueue([]byte("x")) {
			t.Fatal("the queue refused a frame below its bound")
		}
	}
	pushes := slices.Repeat([]chatapp.Push{{Kind: chatapp.PushMessage, Data: []byte("y")}}, 3)
	ds, err := h.BroadcastBatch(context.Background(), "r", pushes)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		if d.Delivered != 0 || d.Failed != 1 {
			t.Errorf("push %d: delivered %d, failed %d; want 0, 1", i, d.Delivered, d.Failed)
		}
	}
	if got := c.writer.disconnect(); got != DisconnectSlowConsumer {
		t.Errorf("the member closed with %+v, want the slow consumer's close", got)
	}
}

// TestBroadcastBatchRefusesADoneContext: nothing is queued under a done
// context, as Broadcast and Post refuse it.
func TestBroadcastBatchRefusesADoneContext(t *testing.T) {
	h := New(nil)
	c := h.Open("a=", Peer{})
	c.Accept()
	h.Joined(&chatapp.Connection{ID: "a=", RoomID: "r"})
	t.Cleanup(func() { c.Close(DisconnectNormal); c.Forget() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.BroadcastBatch(ctx, "r", []chatapp.Push{{Data: []byte("m")}}); err == nil {
		t.Error("a done context was not refused")
	}
	if frames, _ := c.writer.pending(); frames != 0 {
		t.Errorf("%d frames queued under a done context", frames)
	}
}

// TestPresenceWalksOnlyItsWatchers: a presence event reaches the members
// that asked for presence, from the room's index of them, which follows
// them as they join, move and leave; the event lists no connections.
func TestPresenceWalksOnlyItsWatchers(t *testing.T) {
	h := New(nil)
	_, watcherEnd := pipedMember(t, h, "watcher=", "r", true)
	pipedMember(t, h, "plain=", "r", false)
	pipedMember(t, h, "mover=", "r", true)
	h.Joined(&chatapp.Connection{ID: "mover=", RoomID: "elsewhere", Presence: true}) // moves out
	got := make(chan []string, 1)
	go func() { got <- readTexts(t, watcherEnd, 1) }()
	ds, err := h.BroadcastBatch(context.Background(), "r", []chatapp.Push{{Kind: chatapp.PushPresence, Data: []byte("join")}})
	if err != nil {
		t.Fatal(err)
	}
	if texts := <-got; texts[0] != "join" {
		t.Errorf("the watcher read %q", texts)
	}
	if ds[0].Delivered != 1 || !ds[0].Partial || ds[0].Connections != nil {
		t.Errorf("delivered %d, partial %v, listed %d; want 1, true, none", ds[0].Delivered, ds[0].Partial, len(ds[0].Connections))
	}
	h.Left("watcher=")
	h.Left("mover=")
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.watching) != 0 {
		t.Errorf("the presence index still holds %d rooms after its watchers left", len(h.watching))
	}
}
