// The clients against a node of the cluster: the original client's wire
// format with members of its room on another node, and the Go client
// moved by a load balancer to another node when its own dies.

package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/client"
)

// TestClusterOriginalClientFlow: the original client's session on node 0
// of a cluster of two, the second member of its room on node 1, who gets
// the same pushes in the original's format; the users a send answers
// with are the cluster's. The original client hears of joins and leaves
// on another node as it does on one: in the users of its next send's
// answer, never as a frame it does not know.
func TestClusterOriginalClientFlow(t *testing.T) {
	nodes, _ := startCluster(t, 2, ServeConfig{})
	originalFlow(t, nodes[0].URL, nodes[1].URL, "roomA", "roomB")

	const room = "roomC"
	here := dial(t, nodes[0].URL, "here", originalQuery("3001", room))
	there := dial(t, nodes[1].URL, "there", originalQuery("3002", room))
	originalSend(t, nodes[0].URL, room, "3001", "Dan", "who is here?", "3001", "3002")
	checkPush(here, room, "3001", "Dan", "who is here?")
	checkPush(there, room, "3001", "Dan", "who is here?")
	there.close()
	eventually(t, "node 0 lists the member on node 1 gone", func() bool { return len(getUsers(t, nodes[0].URL, room)) == 1 })
	originalSend(t, nodes[0].URL, room, "3001", "Dan", "alone?", "3001")
	checkPush(here, room, "3001", "Dan", "alone?") // no leave frame before it
}

// TestClusterClientReconnectsToAnotherNode: the Go client reaches a cluster
// of two through a load balancer (wsProxy), which sends it to node A. A
// dies under it with two of its sends in flight, both stored by A: one
// over the socket whose push never came back, one over REST whose answer
// was lost. As a crash does, A's death drops the client's socket without
// a close frame (the balancer cuts its connections, then A stops: a node
// in process cannot be killed; TestClusterProcessesSurviveKillAndBrokerRestart
// kills node processes). The balancer holds the client's connections
// until it has another node; meanwhile Bob, on node B, goes on sending.
// The balancer sends the client to B: it sends its two sends again under
// their idempotency keys, catches up, and delivers every message of the
// room once, in stored order, its own two stored once each.
func TestClusterClientReconnectsToAnotherNode(t *testing.T) {
	nodes, _ := startCluster(t, 2, ServeConfig{})
	nodeA, nodeB := nodes[0], nodes[1]
	const room = "failover"
	balancer := newWSProxy(t, nodeA.URL)
	died := make(chan struct{})
	// A dies once the answer of the REST send in flight is lost.
	lossy := &lossyPuts{rt: http.DefaultTransport.(*http.Transport).Clone(), lost: func() {
		balancer.hold()
		balancer.cut()
		close(died)
	}}
	t.Cleanup(lossy.rt.CloseIdleConnections)
	a := dialClient(t, balancer.URL, client.Config{Room: room, UserID: "a", Name: "Ada", HTTPClient: &http.Client{Transport: lossy}})
	r := record(t, "a", a)
	bob := dialClient(t, nodeB.URL, client.Config{Room: room, UserID: "b", Name: "Bob"})
	rb := record(t, "b", bob)
	chatAround(t, a, r, nodeB.URL, room, "before", 3)

	// The socket send: stored by A, which published it to B, its push to
	// a lost on the way.
	balancer.lose(lossDown)
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()
	if err := a.SendWS(ctx, "in flight ws"); err != nil {
		t.Fatal(err)
	}
	rb.waitText("in flight ws")
	// The REST send: stored by A, its answer lost, then A dies.
	lossy.drop.Store(1)
	type sent struct {
		m   *chatapp.Message
		err error
	}
	rest := make(chan sent, 1)
	go func() {
		m, err := a.Send(ctx, "in flight rest")
		rest <- sent{m, err}
	}()
	select {
	case <-died:
	case <-time.After(waitTimeout):
		t.Fatal("the REST send in flight lost no answer")
	}
	nodeA.close(t)
	evs := r.wait("the drop", func(evs []client.Event) bool { return count(evs, client.KindReconnecting) > 0 })
	if i := slices.IndexFunc(evs, func(ev client.Event) bool { return ev.Kind == client.KindReconnecting }); websocket.CloseStatus(evs[i].Err) != -1 {
		t.Errorf("the socket ended with %v, want no close frame (A died)", evs[i].Err)
	}

	// A is down, the client's connections held: Bob sends on B, over
	// REST and over his socket.
	for _, text := range []string{"while away 0", "while away 1"} {
		putMessage(t, nodeB.URL, room, "b", "Bob", text)
	}
	if err := bob.SendWS(ctx, "while away ws"); err != nil {
		t.Fatal(err)
	}
	rb.waitText("while away ws")

	balancer.retarget(nodeB.URL)
	r.wait("connected to B", func(evs []client.Event) bool { return count(evs, client.KindConnected) >= 2 })
	var sentRest sent
	select {
	case sentRest = <-rest:
	case <-time.After(waitTimeout):
		t.Fatal("the REST send in flight did not return")
	}
	if sentRest.err != nil {
		t.Fatalf("the REST send in flight: %v", sentRest.err)
	}
	chatAround(t, a, r, nodeB.URL, room, "after", 2)
	checkCaughtUp(t, r, nodeB.URL, room, 4+2+3+3+1)

	// Each send in flight stored once, the REST one as Send returned it.
	var stored []message
	for _, m := range getHistory(t, nodeB.URL, "room_id="+room+"&limit=1000").Messages {
		if m.UserID == "a" && strings.HasPrefix(m.Text, "in flight") {
			stored = append(stored, m)
		}
	}
	if len(stored) != 2 || stored[0].Text != "in flight ws" || stored[1].ID != sentRest.m.ID {
		t.Errorf("the sends in flight are stored as %+v, want the socket send, then the REST send as Send returned it (%s), once each", stored, sentRest.m.ID)
	}
	// Sent again: the socket send by PUT, the REST send's retry.
	if n := lossy.puts.Load(); n < 3 {
		t.Errorf("%d PUTs, want at least 3: the REST send twice, the socket send once", n)
	}
	if n := count(r.snapshot(), client.KindError); n != 0 {
		t.Errorf("%d error events (a send that failed for good), want none:\n%s", n, describeEvents(r.snapshot()))
	}
}
