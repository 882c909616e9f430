// The cluster's failures with real processes: three `chatapp serve`
// nodes, one of them killed under load, then the broker restarted.

package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/client"
	"github.com/chatapp-dev/chatapp/internal/natslocal"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// viewer records the ids of the messages a client delivered, in order.
type viewer struct {
	name string
	mu   sync.Mutex
	ids  []string
	left map[string]int // leaves heard, by user
}

func watch(c *client.Client, name string) *viewer {
	v := &viewer{name: name, left: map[string]int{}}
	go func() {
		for e := range c.Events() {
			v.mu.Lock()
			switch e.Kind {
			case client.KindMessage:
				v.ids = append(v.ids, e.Message.ID)
			case client.KindLeave:
				v.left[e.Presence.UserID]++
			}
			v.mu.Unlock()
		}
	}()
	return v
}

func (v *viewer) seen() ([]string, map[string]int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.ids), maps.Clone(v.left)
}

// TestClusterProcessesSurviveKillAndBrokerRestart: three node processes on
// one database and one broker, a room with members (Go clients, each
// through a proxy to its node) and senders on every node. Under load, one
// node is killed (SIGKILL): its clients reconnect, through their proxy, to
// another node and catch up; the live nodes sweep its rows and announce
// each of its members' leaves once. Then the broker is restarted. Every
// client delivered the room's stored messages, each once, in stored order.
func TestClusterProcessesSurviveKillAndBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chatapp binary")
	}
	bin := buildBinary(t)
	broker := natslocal.Start(t)
	env := []string{"CHATAPP_POSTGRES_URL=" + pglocal.Schema(t)}
	const room, perNode, sends = "cluster-kill", 2, 40
	var procs []*process
	var proxies []*wsProxy
	for range 3 {
		p := startServe(t, bin, env, "--store", "postgres", "--broker", broker.URL, "--heartbeat", "200ms", "--sweep-grace", "1s", "--send-rate", "0")
		procs = append(procs, p)
		proxies = append(proxies, newWSProxy(t, p.url))
	}
	watcher := watch(dialClient(t, procs[0].url, client.Config{Room: room, UserID: "watcher", Name: "W", Presence: true}), "watcher")
	var viewers []*viewer
	for i := range procs {
		for j := range perNode {
			name := fmt.Sprintf("m%d-%d", i, j)
			viewers = append(viewers, watch(dialClient(t, proxies[i].URL, client.Config{Room: room, UserID: name, Name: name}), name))
		}
	}

	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			user := fmt.Sprintf("sender%d", i)
			for j := range sends {
				body := mustJSON(t, map[string]string{"room_id": room, "text": fmt.Sprintf("%s #%d", user, j), "user_id": user, "name": user})
				for attempt := 0; ; attempt++ { // a send cut by the kill is sent again
					r, err := tryDo(http.MethodPut, proxies[i].URL+"/chat/", body, jsonHeader)
					if err == nil && r.Status == http.StatusOK {
						break
					}
					if attempt == 50 {
						t.Errorf("%s: PUT %d: %v %d %s", user, j, err, r.Status, r.Body)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				sent.Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	waitSent := func(n int64) {
		for deadline := time.Now().Add(20 * time.Second); sent.Load() < n && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitSent(sends)
	procs[2].cmd.Process.Kill()
	<-procs[2].exited
	proxies[2].retarget(procs[0].url)
	waitSent(2 * sends)
	broker.Restart(t)
	wg.Wait()

	stored := storedIDs(t, procs[0].url, room)
	if len(stored) < 3*sends {
		t.Fatalf("the room stores %d messages, want at least %d", len(stored), 3*sends)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, v := range viewers {
		for got, _ := v.seen(); len(got) < len(stored) && time.Now().Before(deadline); got, _ = v.seen() {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // a message delivered twice would come by now
	for _, v := range viewers {
		if got, _ := v.seen(); !slices.Equal(got, stored) {
			t.Errorf("%s delivered %d messages that are not the room's %d stored ones, each once in order:\n got %v\nwant %v", v.name, len(got), len(stored), got, stored)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, left := watcher.seen(); left["m2-0"] > 0 && left["m2-1"] > 0 {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // more sweeps: a leave announced twice would come by now
	if _, left := watcher.seen(); left["m2-0"] != 1 || left["m2-1"] != 1 || len(left) != 2 {
		t.Errorf("the leaves heard are %v, want one of each of the killed node's members and none other", left)
	}
}
