package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// nodesWithRows is a store of the nodes of tags, each with two connection
// rows, and the rows of a tag that has no node row (ORPH).
func nodesWithRows(t *testing.T, tags ...string) *DB {
	t.Helper()
	db := openDB(t, pglocal.Schema(t))
	for _, tag := range tags {
		if ok, err := db.ClaimNode(t.Context(), tag); !ok || err != nil {
			t.Fatalf("ClaimNode(%s): %v %v", tag, ok, err)
		}
	}
	for _, tag := range append(tags, "ORPH") {
		for i := range 2 {
			if err := db.CreateConnection(t.Context(), &chatapp.Connection{ID: fmt.Sprintf("%sconn%06d=", tag, i), RoomID: "r", UserID: "u"}, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db
}

// staleNodes makes the nodes of tags not seen for a minute.
func staleNodes(t *testing.T, db *DB, tags ...string) {
	t.Helper()
	if _, err := db.pool.Exec(t.Context(), `UPDATE nodes SET seen_at = now() - interval '1 minute' WHERE tag = ANY($1)`, tags); err != nil {
		t.Fatal(err)
	}
}

// rowTags lists the tags of the stored connection rows, one per row.
func rowTags(t *testing.T, db *DB) []string {
	t.Helper()
	conns, err := db.ListConnections(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, c := range conns {
		tags = append(tags, c.ID[:4])
	}
	slices.Sort(tags)
	return tags
}

func sweep(t *testing.T, db *DB, tags ...string) []string {
	t.Helper()
	gone, err := db.SweepDeadNodes(t.Context(), tags, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range gone {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestSweepKeepsANodeThatBeat: a node that beats between a sweep's read
// of the nodes (which found it dead) and its delete keeps its rows and
// its node row; the other dead node loses both, each row returned once;
// a tag without a node row is given a dead one (a live node's is left as
// it is) and swept the same way.
func TestSweepKeepsANodeThatBeat(t *testing.T) {
	db := nodesWithRows(t, "BEAT", "DEAD", "LIVE")
	staleNodes(t, db, "BEAT", "DEAD")
	_, dead, err := db.Nodes(t.Context(), 10*time.Second)
	slices.Sort(dead)
	if err != nil || !slices.Equal(dead, []string{"BEAT", "DEAD"}) {
		t.Fatalf("Nodes: dead %v (%v), want [BEAT DEAD]", dead, err)
	}
	if _, err := db.TouchNode(t.Context(), "BEAT", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if gone := sweep(t, db, dead...); !slices.Equal(gone, []string{"DEADconn000000=", "DEADconn000001="}) {
		t.Fatalf("the sweep deleted %v, want DEAD's two rows alone", gone)
	}
	if gone := sweep(t, db, dead...); len(gone) != 0 {
		t.Fatalf("a second sweep deleted %v, want nothing", gone)
	}
	if err := db.InsertDeadNodes(t.Context(), []string{"ORPH", "LIVE"}); err != nil {
		t.Fatal(err)
	}
	if gone := sweep(t, db, "ORPH", "LIVE"); !slices.Equal(gone, []string{"ORPHconn000000=", "ORPHconn000001="}) {
		t.Fatalf("the sweep of the orphans deleted %v, want ORPH's two rows alone", gone)
	}
	if tags := rowTags(t, db); !slices.Equal(tags, []string{"BEAT", "BEAT", "LIVE", "LIVE"}) {
		t.Errorf("rows left of the tags %v, want BEAT's and LIVE's", tags)
	}
	live, dead, err := db.Nodes(t.Context(), 10*time.Second)
	slices.Sort(live)
	if err != nil || !slices.Equal(live, []string{"BEAT", "LIVE"}) || len(dead) != 0 {
		t.Errorf("Nodes: live %v dead %v (%v), want live [BEAT LIVE] alone", live, dead, err)
	}
}

// TestSweepWaitsForABeatUnderWay: a sweep that meets the row of a node
// whose beat is under way (locked, written, not yet committed) waits for
// it and deletes nothing of that node.
func TestSweepWaitsForABeatUnderWay(t *testing.T) {
	db := nodesWithRows(t, "BEAT")
	staleNodes(t, db, "BEAT")
	beat := holdLock(t, db, `SELECT FROM nodes WHERE tag = 'BEAT' FOR UPDATE; UPDATE nodes SET seen_at = now() WHERE tag = 'BEAT'`)
	swept := make(chan []string, 1)
	go func() { swept <- sweep(t, db, "BEAT") }()
	waitForLockWait(t, db, func() bool { return len(swept) > 0 })
	if err := beat.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if gone := <-swept; len(gone) != 0 {
		t.Fatalf("the sweep deleted %v, want nothing: the node beat", gone)
	}
	if tags := rowTags(t, db); !slices.Equal(tags, []string{"BEAT", "BEAT", "ORPH", "ORPH"}) {
		t.Errorf("rows left of the tags %v, want BEAT's (and ORPH's)", tags)
	}
}

// TestBeatAfterASweepLapses: a beat that meets its node's row being
// deleted by a sweep (which judged it dead by a clock a moment later
// than the beat's) waits for the sweep and reports the node lapsed,
// whatever its own reading of the row said: its rows are gone.
func TestBeatAfterASweepLapses(t *testing.T) {
	db := nodesWithRows(t, "BEAT")
	sweeping := holdLock(t, db, `DELETE FROM nodes WHERE tag = 'BEAT'`)
	lapsed := make(chan bool, 1)
	go func() {
		l, err := db.TouchNode(context.Background(), "BEAT", 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		lapsed <- l
	}()
	waitForLockWait(t, db, func() bool { return len(lapsed) > 0 })
	if err := sweeping.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !<-lapsed {
		t.Fatal("the beat after a sweep of its node says it had not lapsed")
	}
}

// holdLock runs sql in a transaction it leaves open (the test commits it):
// the row locks it takes are held.
func holdLock(t *testing.T, db *DB, sql string) pgx.Tx {
	t.Helper()
	tx, err := db.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), sql); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitForLockWait waits until a session waits for a lock, or done.
func waitForLockWait(t *testing.T, db *DB, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var waiting bool
		if err := db.pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting || done() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waits for a lock")
		}
	}
}
