package bench_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/chatapp-dev/chatapp/bench"
)

// TestSpreadOverNodes runs the sends scenario against two nodes (two
// listeners of one chat), in 4 rooms, which every member and sender
// joining node i%2 would leave with each room on one node: every room
// must have members and senders on both, everything must arrive, and the
// result must give each node's usage, the broker's and its traffic per
// message.
func TestSpreadOverNodes(t *testing.T) {
	nodes := startNodes(t, 2)
	var varzCalls atomic.Int64
	// A /varz of fixed steps, for exact arithmetic; TestReadVarzOfARealServer
	// reads the real server's.
	varz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/varz" {
			http.NotFound(w, r)
			return
		}
		n := varzCalls.Add(1) // each reading 1,000 messages in, 2,000 out, ... more than the last
		fmt.Fprintf(w, `{"in_msgs":%d,"out_msgs":%d,"in_bytes":%d,"out_bytes":%d,"server_id":"x"}`, 1000*n, 2000*n, 3000*n, 4000*n)
	}))
	defer varz.Close()

	cfg := tiny(t, "sends")
	cfg.Senders = 8 // two per room
	cfg.URLs = []string{nodes[0].url, nodes[1].url}
	cfg.ServerPIDs = []int{os.Getpid(), os.Getpid()}
	cfg.BrokerPID, cfg.BrokerMonitorURL = os.Getpid(), varz.URL
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v (result %+v)", err, res)
	}
	if d := res.Deliveries; !res.Complete || d.Lost != 0 || d.Expected == 0 || d.Received != d.Expected {
		t.Fatalf("incomplete: complete=%v deliveries=%+v sends=%+v errors=%v", res.Complete, d, res.Sends, res.Errors)
	}

	sockets := 0
	for i, n := range nodes {
		members, senders := n.joined()
		if len(members) != cfg.Rooms || len(senders) != cfg.Rooms {
			t.Errorf("node %d has members in %d rooms and senders in %d, want all %d: members %v, senders %v",
				i+1, len(members), len(senders), cfg.Rooms, members, senders)
		}
		for _, c := range members {
			sockets += c
		}
		for _, c := range senders {
			sockets += c
		}
	}
	if sockets != cfg.Members+cfg.Senders {
		t.Errorf("%d WebSockets over the nodes, want %d", sockets, cfg.Members+cfg.Senders)
	}
	if len(res.Nodes) != 2 || res.Server == nil || len(res.Server.PIDs) != 2 || res.Server.After.Processes != 2 {
		t.Errorf("server %+v, nodes %+v: want both nodes, and their sum", res.Server, res.Nodes)
	}
	if res.Broker == nil || res.Broker.PIDs[0] != os.Getpid() || res.Store != nil {
		t.Errorf("broker %+v, store %+v: want the broker only", res.Broker, res.Store)
	}
	acked := float64(res.Sends.Acked)
	tr := res.BrokerTraffic
	if tr == nil || tr.InMsgs != 1000 || tr.OutBytes != 4000 || tr.InMsgsPerMessage != 1000/acked || tr.OutBytesPerMessage != 4000/acked {
		t.Errorf("broker traffic %+v over %v messages: want the difference of two readings, 1,000 msgs in and 4,000 bytes out", tr, acked)
	}
}

// joined returns copies of n's members and senders per room.
func (n *node) joined() (members, senders map[string]int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.members), maps.Clone(n.senders)
}
