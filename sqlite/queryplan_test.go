package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/storetest"
)

// TestHistoryQueryPlans: every history page is a search of the primary key
// (room_id, id), in key order: no scan of the table, no sort.
func TestHistoryQueryPlans(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	cursor := storetest.MessageID(time.Now())
	for name, f := range map[string]chatapp.MessageFilter{
		"latest": {RoomID: "r", Limit: 50},
		"before": {RoomID: "r", Before: cursor, Limit: 50},
		"after":  {RoomID: "r", After: cursor, Limit: 50},
	} {
		query, args, _ := historyQuery(f)
		rows, err := db.reader.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		wantKey := "SEARCH messages USING PRIMARY KEY (room_id=?"
		if len(plan) != 1 || !strings.HasPrefix(plan[0], wantKey) || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s page: plan %q, want one %q… and no sort", name, all, wantKey)
		} else {
			t.Logf("%s: %s", name, all)
		}
	}
}

// TestConnectionCapQueryPlan: the count of a user's connections that every
// capped $connect runs is a search of the covering index connections_user,
// whatever the size of the table.
func TestConnectionCapQueryPlan(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	for name, query := range map[string]string{
		"count":  countUserConnectionsSQL,
		"insert": insertConnectionCappedSQL,
	} {
		plan := queryPlan(t, db, query)
		t.Logf("%s: %s", name, strings.Join(plan, "; "))
		want := "SEARCH connections USING COVERING INDEX connections_user (user_id=?"
		found := false
		for _, step := range plan {
			if strings.Contains(step, "SCAN connections") {
				t.Errorf("%s: the plan scans the table: %q", name, plan)
			}
			found = found || strings.HasPrefix(step, want)
		}
		if !found {
			t.Errorf("%s: plan %q, want a step %q…", name, plan, want)
		}
	}
}

// queryPlan returns the details of EXPLAIN QUERY PLAN query, with every
// parameter NULL.
func queryPlan(t *testing.T, db *DB, query string) []string {
	t.Helper()
	rows, err := db.reader.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, make([]any, strings.Count(query, "?"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
