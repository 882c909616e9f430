package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// TestHistoryQueryPlans: every history page is a search of the primary key
// (room_id, id), in key order: no scan of the table, no sort.
func TestHistoryQueryPlans(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	cursor := chatapp.NewMessageID(time.Now())
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
