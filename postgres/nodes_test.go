package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestNodesLiveAndDead: a tag is claimed once; a node not seen within the
// grace is dead, one touched since is live again (its touch says it had
// lapsed, as does a removed row's, which comes back), and a removed one is
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
	if lapsed, err := db.TouchNode(ctx, "BBBB", 10*time.Second); err != nil || !lapsed {
		t.Fatalf("TouchNode of a stale row: lapsed %v (%v), want true", lapsed, err)
	}
	if lapsed, err := db.TouchNode(ctx, "BBBB", 10*time.Second); err != nil || lapsed {
		t.Fatalf("TouchNode of a fresh row: lapsed %v (%v), want false", lapsed, err)
	}
	for tag, want := range map[string]bool{"AAAA": false, "BBBB": true, "ZZZZ": false} {
		if alive, err := db.NodeAlive(ctx, tag, 10*time.Second); err != nil || alive != want {
			t.Errorf("NodeAlive(%s): %v (%v), want %v", tag, alive, err, want)
		}
	}
	live, dead, err := db.Nodes(ctx, 10*time.Second)
	if err != nil || !slices.Equal(live, []string{"BBBB"}) || !slices.Equal(dead, []string{"AAAA"}) {
		t.Fatalf("Nodes: live %v dead %v (%v), want live [BBBB] dead [AAAA]", live, dead, err)
	}
	if err := db.RemoveNode(ctx, "AAAA"); err != nil {
		t.Fatal(err)
	}
	if lapsed, err := db.TouchNode(ctx, "CCCC", 10*time.Second); err != nil || !lapsed { // a row another node removed comes back
		t.Fatalf("TouchNode of a missing row: lapsed %v (%v), want true", lapsed, err)
	}
	live, dead, err = db.Nodes(ctx, 10*time.Second)
	slices.Sort(live)
	if err != nil || !slices.Equal(live, []string{"BBBB", "CCCC"}) || len(dead) != 0 {
		t.Fatalf("Nodes: live %v dead %v (%v), want live [BBBB CCCC], none dead", live, dead, err)
	}
}

// TestRestoreConnections: swept rows are written back and returned; a
// stored one is left as it is.
func TestRestoreConnections(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	stored := &chatapp.Connection{ID: "AAAAstored", RoomID: "r", UserID: "u", Name: "N", Timestamp: 1, Presence: true}
	if err := db.CreateConnection(t.Context(), stored, 0); err != nil {
		t.Fatal(err)
	}
	changed := *stored
	changed.Name = "other"
	swept := &chatapp.Connection{ID: "AAAAswept", RoomID: "r", UserID: "v", Name: "M", Timestamp: 2, ExpiresAt: 9}
	written, err := db.RestoreConnections(t.Context(), []*chatapp.Connection{&changed, swept})
	if err != nil || len(written) != 1 || written[0] != swept {
		t.Fatalf("RestoreConnections: %v %v, want the swept row alone", written, err)
	}
	for _, c := range []*chatapp.Connection{stored, swept} {
		if got, err := db.FindConnection(t.Context(), c.ID); err != nil || *got != *c {
			t.Errorf("FindConnection: %+v %v, want %+v", got, err, c)
		}
	}
	if written, err := db.RestoreConnections(t.Context(), nil); err != nil || len(written) != 0 {
		t.Errorf("RestoreConnections of none: %v %v", written, err)
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
