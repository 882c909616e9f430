package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/natslocal"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/postgres"
)

// startCluster starts n serve nodes in process on one PostgreSQL database
// (cfg's, else a new one) and one NATS server, which the test may
// restart; each node's config is cfg's, with those.
func startCluster(t *testing.T, n int, cfg ServeConfig) ([]*testServer, *natslocal.Server) {
	t.Helper()
	broker := natslocal.Start(t)
	if cfg.PostgresURL == "" {
		cfg.PostgresURL = pglocal.Schema(t)
	}
	cfg.Store, cfg.Broker = "postgres", broker.URL
	nodes := make([]*testServer, n)
	for i := range nodes {
		nodes[i] = startServer(t, cfg)
	}
	return nodes, broker
}

// member is a client of one node, named for the failures.
func members(t *testing.T, nodes []*testServer, room string, each int) []*wsClient {
	t.Helper()
	var clients []*wsClient
	for i, node := range nodes {
		for j := range each {
			name := fmt.Sprintf("node%d-member%d", i, j)
			clients = append(clients, dial(t, node.URL, name, originalQuery(name, room)))
		}
	}
	return clients
}

// sendFrom sends count messages into room from each of senders goroutines
// per node, all nodes at once, each sender's one after the other; between
// the first and the second half, midway runs (if not nil). It returns how
// many sends failed.
func sendFrom(t *testing.T, nodes []*testServer, room string, senders, count int, midway func()) {
	t.Helper()
	var wg sync.WaitGroup
	var sent atomic.Int64
	half := int64(len(nodes) * senders * count / 2)
	reached := make(chan struct{})
	var once sync.Once
	for i, node := range nodes {
		for k := range senders {
			user := fmt.Sprintf("sender%d-%d", i, k)
			wg.Go(func() {
				for j := range count {
					body := mustJSON(t, map[string]string{"room_id": room, "text": fmt.Sprintf("%s #%d", user, j), "user_id": user, "name": user})
					r, err := tryDo(http.MethodPut, node.URL+"/chat/", body, jsonHeader)
					if err != nil || r.Status != http.StatusOK {
						t.Errorf("%s: PUT %d: %v %d %s", user, j, err, r.Status, r.Body)
						return
					}
					if sent.Add(1) == half {
						once.Do(func() { close(reached) })
					}
				}
			})
		}
	}
	if midway != nil {
		<-reached
		midway()
	}
	wg.Wait()
}

// storedIDs reads the room's whole history, in stored order.
func storedIDs(t *testing.T, base, room string) []string {
	t.Helper()
	var ids []string
	after := ""
	for {
		h := getHistory(t, base, "room_id="+room+"&limit=1000"+after)
		for _, m := range h.Messages {
			ids = append(ids, m.ID)
		}
		if len(h.Messages) < 1000 {
			return ids
		}
		after = "&after=" + ids[len(ids)-1]
	}
}

// checkViews reads every client's pushes until it has as many as the room
// stores, and checks each client saw exactly the stored ids in stored
// order: nothing lost, nothing twice, nothing out of order.
func checkViews(t *testing.T, clients []*wsClient, stored []string) {
	t.Helper()
	for _, c := range clients {
		got := make([]string, 0, len(stored))
		for range stored {
			got = append(got, c.nextMessage().ID)
		}
		if !slices.Equal(got, stored) {
			t.Errorf("%s saw %d pushes that are not the room's %d stored messages in order:\n got %v\nwant %v", c.name, len(got), len(stored), got, stored)
		}
	}
	time.Sleep(300 * time.Millisecond) // a push delivered twice would come by now
	for _, c := range clients {
		if n := len(c.frames); n > 0 {
			t.Errorf("%s got %d frames more than the room's messages: %s", c.name, n, (<-c.frames).data)
		}
	}
}

// TestClusterDeliversEveryMessageOnceInOrder: three nodes, members of one
// room on each, senders on each at once. Every member gets every message
// exactly once, in the room's stored order, whichever node it sent on;
// the users of the room, asked on any node, are the whole cluster's, and
// so is the list a send answers with.
func TestClusterDeliversEveryMessageOnceInOrder(t *testing.T) {
	nodes, _ := startCluster(t, 3, ServeConfig{})
	const room = "cluster-busy"
	clients := members(t, nodes, room, 2)
	for i, node := range nodes {
		if users := getUsers(t, node.URL, room); len(users) != len(clients) {
			t.Errorf("node %d lists %d users, want the cluster's %d", i, len(users), len(clients))
		}
	}
	if users, _ := putMessage(t, nodes[1].URL, room, "first", "First", "hello, cluster")["users"].([]any); len(users) != len(clients) {
		t.Errorf("a send's answer lists %d users, want the cluster's %d", len(users), len(clients))
	}
	sendFrom(t, nodes, room, 2, 20, nil)
	stored := storedIDs(t, nodes[2].URL, room)
	if want := 1 + len(nodes)*2*20; len(stored) != want {
		t.Fatalf("the room stores %d messages, want %d", len(stored), want)
	}
	checkViews(t, clients, stored)
}

// TestClusterPresenceAndJoins: a join on one node is announced to the
// members of the room on another, and so is its leave; a client that has
// just connected to a node gets a message sent on another node at once,
// in a room that node had no member of before: its $connect returned
// only once the node was subscribed to the room.
func TestClusterPresenceAndJoins(t *testing.T) {
	nodes, _ := startCluster(t, 2, ServeConfig{})
	watcher := dial(t, nodes[0].URL, "watcher", "user_id=w&room_id=p&events=presence&")
	joiner := dial(t, nodes[1].URL, "joiner", originalQuery("joiner", "p"))
	if m := watcher.nextMap(); m["type"] != "join" || m["user_id"] != "joiner" {
		t.Fatalf("the watcher on node 0 got %v, want the join on node 1", m)
	}
	for i := range 3 {
		room := fmt.Sprintf("fresh-%d", i)
		fresh := dial(t, nodes[1].URL, "fresh", originalQuery("fresh", room))
		sent, _ := putMessage(t, nodes[0].URL, room, "sender", "Sender", "right after the join")["message"].(map[string]any)
		if got := fresh.nextMessage(); got.ID != sent["id"] {
			t.Fatalf("the new member got %s, want %v", got.ID, sent["id"])
		}
		fresh.close()
	}
	joiner.close()
	if m := watcher.nextMap(); m["type"] != "leave" || m["user_id"] != "joiner" {
		t.Fatalf("the watcher on node 0 got %v, want the leave on node 1", m)
	}
}

// TestClusterBrokerRestartLosesNothing: the broker is killed and started
// again while the nodes send into a room with members on each. The sends
// go on (the store takes them), and once the nodes are back on the broker
// they read what they missed from the store: every member still gets
// every message once, in stored order.
func TestClusterBrokerRestartLosesNothing(t *testing.T) {
	nodes, broker := startCluster(t, 2, ServeConfig{})
	const room = "cluster-restart"
	clients := members(t, nodes, room, 2)
	sendFrom(t, nodes, room, 2, 30, func() { broker.Restart(t) })
	stored := storedIDs(t, nodes[0].URL, room)
	if want := len(nodes) * 2 * 30; len(stored) != want {
		t.Fatalf("the room stores %d messages, want %d", len(stored), want)
	}
	checkViews(t, clients, stored)
}

// TestClusterNodesSweepOnlyTheirOwnRows: a node sweeping often and with no
// grace removes a stale row of its own, and spares the rows of the other
// node's live connections, which have no socket in its hub.
func TestClusterNodesSweepOnlyTheirOwnRows(t *testing.T) {
	url := pglocal.Schema(t)
	nodes, _ := startCluster(t, 2, ServeConfig{PostgresURL: url, SweepInterval: 20 * time.Millisecond, SweepGrace: time.Nanosecond})
	dial(t, nodes[1].URL, "other", originalQuery("other", "swept"))
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stale := &chatapp.Connection{ID: nodes[0].node.Tag() + "stale000000=", RoomID: "swept", UserID: "stale", Timestamp: time.Now().Add(-time.Hour).UnixMilli()}
	if err := db.CreateConnection(t.Context(), stale, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 0 sweeps its stale row", func() bool {
		return !slices.ContainsFunc(getUsers(t, nodes[0].URL, "swept"), func(u user) bool { return u.UserID == "stale" })
	})
	time.Sleep(100 * time.Millisecond) // five sweeps more
	if users := getUsers(t, nodes[0].URL, "swept"); len(users) != 1 || users[0].UserID != "other" {
		t.Fatalf("the room's users are %+v, want node 1's live connection alone", users)
	}
}

// TestServeBrokerNeedsPostgres: --broker with the embedded store is an
// error at start: SQLite is one process's.
func TestServeBrokerNeedsPostgres(t *testing.T) {
	_, err := StartServer(t.Context(), ServeConfig{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Broker: "nats://127.0.0.1:4222"})
	if err == nil || !strings.Contains(err.Error(), "--store postgres") {
		t.Fatalf("StartServer with --broker on sqlite: %v, want an error naming --store postgres", err)
	}
}

// TestServeBrokerFromEnvironment: `serve` takes its broker from
// CHATAPP_BROKER and names it, and the node's tag, in the banner, never
// with the password the URL may hold, nor shows it as a default in -help.
func TestServeBrokerFromEnvironment(t *testing.T) {
	broker := natslocal.Start(t)
	const password = "broker-secret" // the test server asks for none: unused
	t.Setenv("CHATAPP_BROKER", strings.Replace(broker.URL, "nats://", "nats://chatapp:"+password+"@", 1))
	t.Setenv("CHATAPP_POSTGRES_URL", pglocal.Schema(t))
	stdout, stderr := serveUntilBanner(t, "--addr", "127.0.0.1:0", "--store", "postgres")
	banner := regexp.MustCompile(`cluster +node [A-Za-z0-9]{4} on the broker ` + regexp.QuoteMeta(broker.URL) + "\n")
	if !banner.MatchString(stdout) {
		t.Errorf("the banner names no node on %s:\n%s", broker.URL, stdout)
	}
	help := &lockedBuffer{}
	runServe(context.Background(), []string{"-help"}, help, help)
	if !strings.Contains(help.String(), "-broker") {
		t.Errorf("-help does not list -broker:\n%s", help.String())
	}
	if strings.Contains(stdout+stderr+help.String(), password) {
		t.Error("serve printed the broker's password")
	}
}

// TestClusterSweepsDeadNodesRows: the rows of a node that stopped beating
// (killed: it removed nothing) are swept by the live nodes, whatever
// their age, and each leave is announced once to the room on every node;
// the dead node's row goes with them, as do rows whose node has no row
// at all. A node that stops cleanly removes its own row.
func TestClusterSweepsDeadNodesRows(t *testing.T) {
	url := pglocal.Schema(t)
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.ClaimNode(t.Context(), "DEAD"); !ok || err != nil {
		t.Fatalf("ClaimNode: %v %v", ok, err)
	}
	nodes, _ := startCluster(t, 2, ServeConfig{PostgresURL: url, Heartbeat: 50 * time.Millisecond, SweepGrace: 200 * time.Millisecond})
	var watchers []*wsClient
	for i, node := range nodes {
		watchers = append(watchers, dial(t, node.URL, fmt.Sprintf("watcher%d", i), fmt.Sprintf("user_id=w%d&room_id=r&events=presence&", i)))
	}
	watchers[0].nextMap() // the other watcher's join
	now := time.Now().UnixMilli()
	for _, c := range []*chatapp.Connection{
		{ID: "DEADfreshrow000=", RoomID: "r", UserID: "dead-user", Timestamp: now, Presence: true},
		{ID: "ORPHorphanrow00=", RoomID: "r", UserID: "orphan-user", Timestamp: now - time.Hour.Milliseconds(), Presence: true},
	} {
		if err := db.CreateConnection(t.Context(), c, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range watchers {
		got := map[string]int{}
		for range 2 {
			if m := w.nextMap(); m["type"] == "leave" {
				got[fmt.Sprint(m["user_id"])]++
			}
		}
		if got["dead-user"] != 1 || got["orphan-user"] != 1 {
			t.Errorf("%s heard the leaves %v, want dead-user's and orphan-user's once each", w.name, got)
		}
	}
	time.Sleep(300 * time.Millisecond) // more sweeps: a leave announced twice would come by now
	for _, w := range watchers {
		if n := len(w.frames); n > 0 {
			t.Errorf("%s got %d frames more: %s", w.name, n, (<-w.frames).data)
		}
	}
	live, dead, err := db.Nodes(t.Context(), time.Minute)
	if err != nil || len(live) != 2 || slices.Contains(live, "DEAD") || len(dead) != 0 {
		t.Fatalf("nodes: live %v, dead %v (%v); want the two live nodes' rows alone", live, dead, err)
	}
	stopped := nodes[1].node.Tag()
	watchers[1].close()
	nodes[1].close(t)
	if live, _, _ := db.Nodes(t.Context(), time.Minute); slices.Contains(live, stopped) {
		t.Errorf("the node that stopped left its row: %v", live)
	}
}

// TestClusterFillsWhatNobodyPublished: a message committed by a node that
// died before publishing it reaches the room's members on every node
// within a heartbeat or so, once.
func TestClusterFillsWhatNobodyPublished(t *testing.T) {
	url := pglocal.Schema(t)
	nodes, _ := startCluster(t, 2, ServeConfig{PostgresURL: url, Heartbeat: 50 * time.Millisecond})
	const room = "unpublished"
	clients := members(t, nodes, room, 1)
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := &chatapp.Message{RoomID: room, UserID: "ghost", Name: "Ghost", Text: "committed, never published"}
	if err := db.CreateMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	checkViews(t, clients, []string{m.ID})
}
