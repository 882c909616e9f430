package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestNodeOf: with as many connections per room as there are nodes or
// more, every room has connections on every node and the nodes get equal
// shares, whether or not the rooms divide by the nodes; for one room and
// for 100 rooms on 3 nodes it is i%nodes.
func TestNodeOf(t *testing.T) {
	for _, c := range []struct{ rooms, nodes int }{{1, 3}, {100, 3}, {99, 3}, {4, 2}, {6, 4}, {5, 1}} {
		perNode := make([]int, c.nodes)
		roomNodes := make([]map[int]bool, c.rooms)
		n := c.rooms * c.nodes * 3
		for i := range n {
			node := nodeOf(i, c.rooms, c.nodes)
			perNode[node]++
			if roomNodes[i%c.rooms] == nil {
				roomNodes[i%c.rooms] = map[int]bool{}
			}
			roomNodes[i%c.rooms][node] = true
			if (c.rooms == 1 || c.rooms%c.nodes == 1) && node != i%c.nodes {
				t.Errorf("%d rooms on %d nodes: connection %d on node %d, want i%%nodes", c.rooms, c.nodes, i, node)
			}
		}
		for room, nodes := range roomNodes {
			if len(nodes) != c.nodes {
				t.Errorf("%d rooms on %d nodes: room %d is on nodes %v only", c.rooms, c.nodes, room, nodes)
			}
		}
		for node, count := range perNode {
			if count != n/c.nodes {
				t.Errorf("%d rooms on %d nodes: node %d has %d of %d connections", c.rooms, c.nodes, node, count, n)
			}
		}
	}
}

func TestNodeFile(t *testing.T) {
	for _, c := range []struct {
		path string
		k, n int
		want string
	}{
		{"/tmp/x/fanout.cpu.pprof", 0, 1, "/tmp/x/fanout.cpu.pprof"},
		{"/tmp/x/fanout.cpu.pprof", 0, 3, "/tmp/x/fanout.cpu.node1.pprof"},
		{"/tmp/x/fanout.cpu.pprof", 2, 3, "/tmp/x/fanout.cpu.node3.pprof"},
		{"heap", 1, 2, "heap.node2"},
	} {
		if got := nodeFile(c.path, c.k, c.n); got != c.want {
			t.Errorf("nodeFile(%q, %d, %d) = %q, want %q", c.path, c.k, c.n, got, c.want)
		}
	}
}

// TestReadProcTree sums a process and its descendants in a made-up /proc:
// their own CPU and their reaped children's, their RSS; not their
// parent's nor a stranger's.
func TestReadProcTree(t *testing.T) {
	proc := t.TempDir()
	// pid, ppid, utime, stime, cutime, cstime (ticks of 10 ms), RSS kB
	for _, p := range [][7]int{
		{1, 0, 500, 500, 9000, 9000, 1000}, // init: the postmaster's parent
		{100, 1, 100, 50, 30, 20, 2000},    // the postmaster; its ended backends used 0.5 s
		{101, 100, 200, 100, 0, 0, 3000},   // a backend
		{102, 100, 10, 0, 0, 0, 4000},      // another
		{103, 102, 1, 1, 0, 0, 5000},       // a grandchild
		{200, 1, 777, 777, 0, 0, 6000},     // someone else's
	} {
		dir := filepath.Join(proc, strconv.Itoa(p[0]))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// A command name with spaces and a ')', as the kernel allows.
		stat := strconv.Itoa(p[0]) + " (postgres: a) b) S " + strconv.Itoa(p[1]) + " 1 1 0 -1 4194560 10 0 0 0 " +
			strconv.Itoa(p[2]) + " " + strconv.Itoa(p[3]) + " " + strconv.Itoa(p[4]) + " " + strconv.Itoa(p[5]) + " 20 0 1 0 100 0\n"
		status := "Name:\tpostgres\nVmHWM:\t" + strconv.Itoa(p[6]+1) + " kB\nVmRSS:\t" + strconv.Itoa(p[6]) + " kB\nThreads:\t1\n"
		for name, text := range map[string]string{"stat": stat, "status": status} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.Mkdir(filepath.Join(proc, "sys"), 0o755) // not a process
	s, err := readProcTree(proc, 100)
	if err != nil {
		t.Fatal(err)
	}
	// (100+50+30+20) + (200+100) + 10 + (1+1) ticks = 512 ticks.
	if math.Abs(s.CPUSeconds-5.12) > 1e-9 || s.RSSKB != 14000 || s.Processes != 4 || s.Threads != 4 {
		t.Errorf("tree of 100: %+v, want CPU 5.12 s, RSS 14000 kB, 4 processes and threads", s)
	}
	if _, err := readProcTree(proc, 999); err == nil {
		t.Error("tree of a missing process: no error")
	}
}

// TestReadPG: a write transaction moves both counters, by one
// transaction and by some WAL; a read moves neither the transactions.
func TestReadPG(t *testing.T) {
	url := pglocal.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS readpg (n int)"); err != nil {
		t.Fatal(err)
	}
	before, err := readPG(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO readpg VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	between, err := readPG(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	after, err := readPG(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	w := storeWrites(before, between, 1)
	if w.WriteTransactions != 1 || w.WALBytes <= 0 || w.WriteTransactionsPerMessage != 1 {
		t.Errorf("one INSERT: %+v, want 1 write transaction and some WAL", w)
	}
	if got := after.WriteTransactions - between.WriteTransactions; got != 0 {
		t.Errorf("reading the counters assigned %d transaction ids, want none", got)
	}
}
