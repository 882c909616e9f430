package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestNodesLiveAndDead: a tag is claimed once; a node not seen within the
// grace is dead, one touched since is live again, and a removed one is
// neither.
func TestNodesLiveAndDead(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	ctx := t.Context()
	for _, tag := range []string{"AAAA", "BBBB"} {
		if ok, err := db.ClaimNode(ctx, tag); err != nil || !ok {
			t.Fatalf("ClaimNode(%s): %v %v, want it claimed", tag, ok, err)
		}
	}
	if ok, err := db.ClaimNode(ctx, "AAAA"); err != nil || ok {
		t.Fatalf("ClaimNode of a held tag: %v %v, want refused", ok, err)
	}
	if _, err := db.pool.Exec(ctx, `UPDATE nodes SET seen_at = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchNode(ctx, "BBBB"); err != nil {
		t.Fatal(err)
	}
	live, dead, err := db.Nodes(ctx, 10*time.Second)
	if err != nil || !slices.Equal(live, []string{"BBBB"}) || !slices.Equal(dead, []string{"AAAA"}) {
		t.Fatalf("Nodes: live %v dead %v (%v), want live [BBBB] dead [AAAA]", live, dead, err)
	}
	if err := db.RemoveNode(ctx, "AAAA"); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchNode(ctx, "CCCC"); err != nil { // a row another node removed comes back
		t.Fatal(err)
	}
	live, dead, err = db.Nodes(ctx, 10*time.Second)
	slices.Sort(live)
	if err != nil || !slices.Equal(live, []string{"BBBB", "CCCC"}) || len(dead) != 0 {
		t.Fatalf("Nodes: live %v dead %v (%v), want live [BBBB CCCC], none dead", live, dead, err)
	}
}

// TestRoomsLastIDs: one query reads the last id of the rooms asked that
// have messages.
func TestRoomsLastIDs(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	want := map[string]string{}
	for _, room := range []string{"a", "b", "a"} {
		m := &chatapp.Message{RoomID: room, UserID: "u", Name: "N", Text: "hi"}
		if err := db.CreateMessage(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		want[room] = m.ID
	}
	got, err := db.RoomsLastIDs(t.Context(), []string{"a", "b", "empty"})
	if err != nil || len(got) != 2 || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("RoomsLastIDs: %v %v, want %v", got, err, want)
	}
}
