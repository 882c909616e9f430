// the tag queries' plans at a million connection rows, with
// custom and generic plans.

package postgres

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestTagPlansAtAMillionRows: 100 nodes' 10,000 rows each; the rows
// of a tag, the tags and the sweep of 3 dead nodes read index ranges, with
// the planner's custom plan and its generic one (what a prepared statement
// gets after 5 runs). Set CHATAPP_BENCH_MILLION=1 to run it: it writes 1M rows.
func TestTagPlansAtAMillionRows(t *testing.T) {
	if os.Getenv("CHATAPP_BENCH_MILLION") == "" {
		t.Skip("CHATAPP_BENCH_MILLION unset")
	}
	db := openDB(t, pglocal.Schema(t))
	if _, err := db.pool.Exec(t.Context(), `INSERT INTO connections (connection_id, room_id, user_id, name, timestamp, presence, expires_at)
		SELECT 'N' || lpad((i % 100)::text, 3, '0') || lpad(i::text, 11, '0') || '=', 'room' || (i % 500), 'u' || (i % 5000), 'n', i, false, 0
		FROM generate_series(1, 1000000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(t.Context(), `VACUUM ANALYZE connections`); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertDeadNodes(t.Context(), []string{"N003", "N004", "N005"}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		if _, err := db.pool.Exec(t.Context(), `ALTER DATABASE postgres SET plan_cache_mode = `+mode); err != nil {
			t.Fatal(err)
		}
		db.pool.Reset()
		for _, q := range []struct {
			name, query string
			args        []any
		}{
			{"rows of a tag", listConnectionsOfTagsSQL, []any{[]string{"N007"}}},
			{"tags", connectionTagsSQL, []any{4}},
			{"sweep", sweepDeadNodesSQL, []any{[]string{"N003", "N004", "N005"}, 10.0}},
		} {
			plan := explain(t, db, q.query, q.args...)
			if strings.Contains(plan, "Seq Scan on connections") || !regexp.MustCompile(`connections_pkey`).MatchString(plan) {
				t.Errorf("%s, %s: a scan of connections at 1M rows:\n%s", mode, q.name, plan)
			} else {
				t.Logf("%s, %s:\n%s", mode, q.name, plan)
			}
		}
	}
}
