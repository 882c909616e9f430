package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/storetest"
)

// seed stores n messages in room, texts of 100 B to 16 KiB, in one commit.
func seed(t *testing.T, db *DB, room string, n int) {
	t.Helper()
	ws := make([]*write, n)
	for i := range ws {
		size := 100
		if i%10 == 0 {
			size = chatapp.MaxMessageBytes
		}
		ws[i] = &write{ctx: context.Background(), m: &chatapp.Message{RoomID: room, UserID: fmt.Sprintf("u%d", i%7), Name: "N",
			Text: strings.Repeat(string(rune('a'+i%26)), size)}}
	}
	db.commit(context.Background(), ws)
	for _, w := range ws {
		if w.err != nil {
			t.Fatal(w.err)
		}
	}
}

// seededDB is a store of two rooms, of 3,000 and 1,000 messages, with
// its planner statistics up to date.
func seededDB(t *testing.T) *DB {
	t.Helper()
	db := openDB(t, pglocal.Schema(t))
	seed(t, db, "big", 3000)
	seed(t, db, "other", 1000)
	if _, err := db.pool.Exec(t.Context(), "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}
	return db
}

func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestHistoryQueryPlans: every page walks the primary key (room_id, id) in
// order, from the index alone, for its limit's ids and sizes, with no scan
// of the table and no sort of the room; only the rows it takes are then
// read. In a room of 3,000 messages, a page of limit 100 under a budget
// of 40 KB reads the ids of at most 101 rows and the texts of the few
// that fit.
func TestHistoryQueryPlans(t *testing.T) {
	db := seededDB(t)
	cursor := storetest.MessageID(time.Now().Add(-time.Hour))
	latest, err := db.FindMessages(t.Context(), chatapp.MessageFilter{RoomID: "big", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]chatapp.MessageFilter{
		"latest": {RoomID: "big", Limit: 100, MaxBytes: 40000},
		"before": {RoomID: "big", Before: latest.Messages[0].ID, Limit: 100, MaxBytes: 40000},
		"after":  {RoomID: "big", After: cursor, Limit: 100, MaxBytes: 40000},
	} {
		query, args, _ := historyQuery(f)
		plan := explain(t, db, query, args...)
		t.Logf("%s page:\n%s", name, plan)
		for _, bad := range []string{"Seq Scan", "Sort"} {
			if strings.Contains(plan, bad) {
				t.Errorf("%s page: the plan has a %s", name, bad)
			}
		}
		if !strings.Contains(plan, "Index Only Scan") || !strings.Contains(plan, "messages_pkey") {
			t.Errorf("%s page: no Index Only Scan of messages_pkey", name)
		}
		page, err := db.FindMessages(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if !page.More || len(page.Messages) > 30 {
			t.Errorf("%s page: %d messages, More %v: want the few the budget holds, and More", name, len(page.Messages), page.More)
		}
	}
}

// connectionsDB is a store of n connections whose ids are id(i), in 50
// rooms of 500 users, with its planner statistics up to date.
func connectionsDB(t *testing.T, n int, id func(i int) string) *DB {
	t.Helper()
	db := openDB(t, pglocal.Schema(t))
	for i := range n {
		c := &chatapp.Connection{ID: id(i), RoomID: fmt.Sprintf("room%d", i%50), UserID: fmt.Sprintf("u%d", i%500), Timestamp: int64(i)}
		if err := db.CreateConnection(t.Context(), c, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.pool.Exec(t.Context(), "VACUUM ANALYZE connections"); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestConnectionQueryPlans: the cap's count reads the index
// connections_user alone, and a room's connections are found by
// connections_room, with no scan of the table. (The planner sorts the 40
// rows of a room after a bitmap scan; the index's order serves a room too
// large for that, and a room of half the table is a scan, rightly.)
func TestConnectionQueryPlans(t *testing.T) {
	db := connectionsDB(t, 2000, func(i int) string { return fmt.Sprintf("c%d=", i) })
	for name, q := range map[string]struct {
		query string
		args  []any
		want  string
	}{
		"capped insert": {insertConnectionCappedSQL, []any{"new=", "room1", "u1", "N", int64(1), false, int64(0), 5},
			"Index Only Scan using connections_user"},
		"room": {`SELECT ` + connectionColumns + ` FROM connections WHERE room_id = $1 ORDER BY timestamp, connection_id`, []any{"room7"},
			"connections_room"},
	} {
		plan := explain(t, db, q.query, q.args...)
		t.Logf("%s:\n%s", name, plan)
		if !strings.Contains(plan, q.want) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: want a plan with %q and no Seq Scan", name, q.want)
		}
	}
}

// TestCommitQueryPlans: a commit's lookups of idempotency keys and given
// ids are searches of their indexes, whatever the table holds, and its
// rooms are locked in id order (LockRows above the Sort), the order that
// keeps transactions of several processes from waiting in a cycle.
func TestCommitQueryPlans(t *testing.T) {
	db := seededDB(t)
	for name, q := range map[string]struct {
		query string
		args  []any
		want  string
	}{
		"keys":  {findKeysSQL, []any{[]string{"big", "big"}, []string{"u1", "u2"}, []string{"k1", "k2"}}, "Index Scan using messages_idempotency"},
		"ids":   {findIDsSQL, []any{[]string{"big"}, []string{storetest.MessageID(time.Now())}}, "Index Only Scan using messages_pkey"},
		"rooms": {lockRoomsSQL, []any{[]string{"other", "big"}}, "LockRows (actual rows=2 loops=1)\n  ->  Sort"},
	} {
		plan := explain(t, db, q.query, q.args...)
		t.Logf("%s:\n%s", name, plan)
		if !strings.Contains(plan, q.want) || (name != "rooms" && strings.Contains(plan, "Seq Scan")) {
			t.Errorf("%s: want a plan with %q", name, q.want)
		}
	}
}

// TestTagQueryPlans: the rows of a node's tag are one range of
// connections_pkey, and the tags of the whole table one search of it per
// tag: with 10 nodes' 5,000 rows, a node's sweep reads its 500 rows from
// the index and the table, a listing of the tags 11 index entries, and
// the sweep of a dead node deletes its 500 rows, found the same way;
// none scans the connections table.
func TestTagQueryPlans(t *testing.T) {
	const tags, each = 10, 500
	db := connectionsDB(t, tags*each, func(i int) string { return fmt.Sprintf("T%03d%011d=", i%tags, i) })
	if err := db.InsertDeadNodes(t.Context(), []string{"T003"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name  string
		query string
		args  []any
		want  string // a node of the plan, as a regular expression
	}{
		{"rows of a tag", listConnectionsOfTagsSQL, []any{[]string{"T003"}},
			fmt.Sprintf(`Index Scan (using|on) connections_pkey .*\(actual rows=%d loops=1\)`, each)},
		{"tags", connectionTagsSQL, []any{4},
			fmt.Sprintf(`Index Only Scan using connections_pkey on connections c \(actual rows=1 loops=%d\)`, tags)},
		{"sweep of a dead node (last: it deletes)", sweepDeadNodesSQL, []any{[]string{"T003"}, 10.0},
			fmt.Sprintf(`Index Scan (using|on) connections_pkey .*\(actual rows=%d loops=1\)`, each)},
	} {
		plan := explain(t, db, q.query, q.args...)
		t.Logf("%s:\n%s", q.name, plan)
		if !regexp.MustCompile(q.want).MatchString(plan) || strings.Contains(plan, "Seq Scan on connections") {
			t.Errorf("%s: want a plan with %s and no Seq Scan of connections", q.name, q.want)
		}
	}
}
