// Cluster failures found by the attack on cluster mode (issue 13): a node
// taken for dead while alive, a database outage, a node off the broker.
// Each comment says what the test shows; each failed before the fix.

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp/internal/natslocal"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestClusterPausedNodeKeepsItsMembers: a node paused (SIGSTOP) past the
// heartbeat's deadline is taken for dead: the other node sweeps its rows
// and announces its members' leaves. When it is resumed (SIGCONT) its
// sockets are still open and its members still chat, and its first beat
// finds its node row gone: it writes its live connections' rows back, so
// `users`, every send's answer and the per-user cap count them again, and
// announces each one's join once, which takes back the wrong leave.
// (Before the fix nothing wrote the rows again: the member was missing
// from users for good.)
func TestClusterPausedNodeKeepsItsMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chatapp binary")
	}
	bin := buildBinary(t)
	broker := natslocal.Start(t)
	env := []string{"CHATAPP_POSTGRES_URL=" + pglocal.Schema(t)}
	var procs []*process
	for range 2 {
		procs = append(procs, startServe(t, bin, env, "--store", "postgres", "--broker", broker.URL, "--heartbeat", "100ms", "--sweep-grace", "300ms"))
	}
	const room = "paused"
	watcher := dial(t, procs[0].url, "watcher", "user_id=w&room_id="+room+"&events=presence&")
	member := dial(t, procs[1].url, "member", originalQuery("member", room))
	if m := watcher.nextMap(); m["type"] != "join" || m["user_id"] != "member" {
		t.Fatalf("watcher got %v, want member's join", m)
	}
	// Paused past 3 beats and the grace (600 ms), as a VM's stall, a GC
	// pause of a huge heap, or a container frozen by its orchestrator.
	procs[1].cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(2 * time.Second)
	procs[1].cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(time.Second) // several beats of the resumed node

	// The member's socket is open and it still chats.
	sent, _ := putMessage(t, procs[0].url, room, "s", "S", "after the pause")["message"].(map[string]any)
	for {
		f := member.nextMap()
		if f["id"] == sent["id"] {
			break
		}
	}
	var leaves, joins int
	for len(watcher.frames) > 0 {
		switch m := watcher.nextMap(); {
		case m["type"] == "leave" && m["user_id"] == "member":
			leaves++
		case m["type"] == "join" && m["user_id"] == "member":
			joins++
		}
	}
	if joins != leaves {
		t.Errorf("the watcher heard the member leave %d times and join again %d times, want a join for each wrong leave", leaves, joins)
	}
	users := getUsers(t, procs[0].url, room)
	if !slices.ContainsFunc(users, func(u user) bool { return u.UserID == "member" }) {
		t.Errorf("after the pause, users lists %+v without the resumed node's connected member (a leave was announced for it %d times)", users, leaves)
	}
}

// TestClusterDatabaseOutageKeepsLiveNodes: the database is out of reach
// of every node for longer than 3 beats and the grace (with the defaults,
// 66 s: a restart for an upgrade, a failover). No node could write its
// heartbeat, so when the database is back every other node's row is
// stale. The first node to beat finds its own row stale too: it was cut
// off as well, so it sweeps nobody until its own beats have reached the
// store for the dead threshold, by which time the live nodes have beaten
// again. Both members stay in users. Simulated by ageing every node's row
// as the outage would (no write reached the table), then letting the
// nodes beat. (Before the fix the first node swept the other's live
// member, with a false leave, for good.)
func TestClusterDatabaseOutageKeepsLiveNodes(t *testing.T) {
	url := pglocal.Schema(t)
	nodes, _ := startCluster(t, 2, ServeConfig{PostgresURL: url, Heartbeat: 200 * time.Millisecond, SweepGrace: 300 * time.Millisecond})
	const room = "outage"
	dial(t, nodes[0].URL, "m0", originalQuery("m0", room))
	dial(t, nodes[1].URL, "m1", originalQuery("m1", room))
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	// The outage: no beat reached the table for an hour.
	if _, err := conn.Exec(t.Context(), `UPDATE nodes SET seen_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the database is back: a few beats
	users := getUsers(t, nodes[0].URL, room)
	var ids []string
	for _, u := range users {
		ids = append(ids, u.UserID)
	}
	slices.Sort(ids)
	if fmt.Sprint(ids) != "[m0 m1]" {
		t.Errorf("after the database came back, users are %v, want both connected members [m0 m1]", ids)
	}
}

// cutProxy passes TCP through to target until cut, which closes every
// connection and refuses new ones until mend.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestClusterManagementAPIRetryableForNodeOffBroker: node B loses the
// broker (a network blip between it and NATS; it reconnects every
// 250 ms) while node A is on it. A Management API POST, sent to A, for a
// connection that is open on B gets a retryable 500, never 410
// GoneException (on which the SDK's user deletes the connection): NATS
// says "no responders" for B's subject, but the store says B is alive.
// The same holds for a function's post (Notifier.Post) and GET/DELETE.
// Only a node the store says is dead, or has no row of, is gone. (Before
// the fix this was 410 for a live connection.)
func TestClusterManagementAPIRetryableForNodeOffBroker(t *testing.T) {
	broker := natslocal.Start(t)
	url := pglocal.Schema(t)
	proxy := newCutProxy(t, strings.TrimPrefix(broker.URL, "nats://"))
	a := startServer(t, ServeConfig{Store: "postgres", PostgresURL: url, Broker: broker.URL})
	b := startServer(t, ServeConfig{Store: "postgres", PostgresURL: url, Broker: "nats://" + proxy.ln.Addr().String()})
	member := dial(t, b.URL, "member", originalQuery("member", "blip"))
	users := getUsers(t, a.URL, "blip")
	if len(users) != 1 {
		t.Fatalf("users %+v", users)
	}
	proxy.setCut(true)
	time.Sleep(300 * time.Millisecond)
	r := signedDo(t, a, http.MethodPost, a.URL+"/@connections/"+neturl.PathEscape(users[0].ConnectionID), `{"hi":1}`, nil)
	proxy.setCut(false)
	if r.Status != http.StatusInternalServerError {
		t.Errorf("POST to a live connection of a node briefly off the broker: %d %s, want a retryable error (500), never GoneException", r.Status, r.Body)
	}
	member.notChat()
}
