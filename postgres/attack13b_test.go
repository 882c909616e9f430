// Attack 13b: odd connection ids against the tag queries of the sweep.

package postgres

import (
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestAttackConnectionTagsOddLastCharacter: one stored connection id whose
// tag-length prefix ends in U+D7FF or U+10FFFF (a valid UTF-8 string, which
// the column accepts) makes pastPrefix compute chr() of an invalid code
// point: ConnectionTags fails, and with it every heartbeat's sweep of dead
// nodes, for as long as the row is there. ListConnectionsOfTags shares the
// expression (its tags are filtered by nats.IsTag in the heartbeat, so only
// ConnectionTags is reachable there).
func TestAttackConnectionTagsOddLastCharacter(t *testing.T) {
	for _, id := range []string{"ABC\U0010FFFFxyz=", "ABC\uD7FFxyz="} {
		t.Run(id, func(t *testing.T) {
			db := openDB(t, pglocal.Schema(t))
			for _, cid := range []string{"AAAAconn0000001=", id, "ZZZZconn0000001="} {
				if err := db.CreateConnection(t.Context(), &chatapp.Connection{ID: cid, RoomID: "r", UserID: "u"}, 0); err != nil {
					t.Fatalf("CreateConnection(%q): %v", cid, err)
				}
			}
			tags, err := db.ConnectionTags(t.Context(), 4)
			if err != nil {
				t.Fatalf("ConnectionTags with an id %q stored: %v (every sweep of dead nodes fails while it is)", id, err)
			}
			if len(tags) != 3 {
				t.Errorf("ConnectionTags: %q, want 3 tags", tags)
			}
			if _, err := db.ListConnectionsOfTags(t.Context(), []string{id[:len(id)-4]}); err != nil {
				t.Errorf("ListConnectionsOfTags(%q): %v", id[:len(id)-4], err)
			}
		})
	}
}
