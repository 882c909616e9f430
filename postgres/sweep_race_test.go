// odd connection ids against the tag queries of the sweep.

package postgres

import (
	"fmt"
	"strings"

	"slices"
	"sync"
	"time"

	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestConnectionTagsOddLastCharacter: a stored connection id whose
// tag-length prefix ends in U+D7FF or U+10FFFF (valid UTF-8, which the
// column accepts; no node mints it) once made pastPrefix call chr() on an
// invalid code point, failing ConnectionTags and so every heartbeat's
// sweep of dead nodes while the row was there. The tags around it are
// still listed, and ListConnectionsOfTags skips it.
func TestConnectionTagsOddLastCharacter(t *testing.T) {
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

// TestSweepsRaceBeats: three sweepers (each as a heartbeat does it:
// Nodes, ConnectionTags, InsertDeadNodes of orphans, SweepDeadNodes) run
// against node BEAT, whose beats come sometimes late (within is 30 ms),
// and which writes its rows back whenever TouchNode says it lapsed. No
// statement fails (a deadlock would), each swept row comes back to one
// sweeper only, and after a last beat that writes back, the node has all
// its rows and its row.
func TestSweepsRaceBeats(t *testing.T) {
	db := nodesWithRows(t, "BEAT")
	own, err := db.ListConnectionsOfTags(t.Context(), []string{"BEAT"})
	if err != nil || len(own) != 2 {
		t.Fatalf("own rows: %v %v", own, err)
	}
	const within = 30 * time.Millisecond
	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	swept := map[string]int{}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				live, dead, err := db.Nodes(ctx, within)
				if err != nil {
					t.Error(err)
					return
				}
				held, err := db.ConnectionTags(ctx, 4)
				if err != nil {
					t.Error(err)
					return
				}
				orphans := slices.DeleteFunc(held, func(tag string) bool { return slices.Contains(live, tag) || slices.Contains(dead, tag) })
				if err := db.InsertDeadNodes(ctx, orphans); err != nil {
					t.Error(err)
					return
				}
				gone, err := db.SweepDeadNodes(ctx, append(dead, orphans...), within)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, c := range gone {
					swept[c.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	beat := func() {
		lapsed, err := db.TouchNode(ctx, "BEAT", within)
		if err != nil {
			t.Error(err)
			return
		}
		if lapsed {
			if _, err := db.RestoreConnections(ctx, own); err != nil {
				t.Error(err)
			}
		}
	}
	for i := range 200 {
		beat()
		time.Sleep(time.Duration(i%5) * 10 * time.Millisecond) // some beats late
	}
	close(stop)
	wg.Wait()
	// Each leave announced at most once per row written back: a row is
	// swept once per time it was written.
	if len(swept) == 0 {
		t.Log("no sweep took the node's rows: the race was not exercised")
	}
	beat()
	lapsed, err := db.TouchNode(ctx, "BEAT", time.Minute)
	if err != nil || lapsed {
		t.Errorf("a beat right after one: lapsed %v, %v", lapsed, err)
	}
	rows, err := db.ListConnectionsOfTags(ctx, []string{"BEAT"})
	if err != nil || len(rows) != 2 {
		t.Errorf("after the race and a last beat, BEAT has rows %v (%v), want its 2", rows, err)
	}
	t.Logf("rows swept (times): %v", swept)
}

// TestOddIDsAroundATag: a dead node's sweep takes the ids that begin
// with its tag, and no neighbour: an id equal to the tag, one that is a
// prefix of it, non-ASCII after it and just past it, the empty id, a
// long one; ConnectionTags lists them all, an empty table none, 2,000
// tags each once. The id equal to the tag, which no
// node mints, goes with the node's rows.
func TestOddIDsAroundATag(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	if tags, err := db.ConnectionTags(t.Context(), 4); err != nil || len(tags) != 0 {
		t.Errorf("ConnectionTags of an empty table: %q %v", tags, err)
	}
	long := "ABCz" + strings.Repeat("é", 1000)
	ids := []string{"", "ABC", "ABCz", "ABCzé", long, "ABC{", "ABCzconn000001=", "ABD", "ABCy\U0010FFFF", "ABC\u00ff"}
	for _, id := range ids {
		if err := db.CreateConnection(t.Context(), &chatapp.Connection{ID: id, RoomID: "r", UserID: "u"}, 0); err != nil {
			t.Fatalf("CreateConnection(%q): %v", id, err)
		}
	}
	tags, err := db.ConnectionTags(t.Context(), 4)
	if want := []string{"", "ABC", "ABCy", "ABCz", "ABC{", "ABCÿ", "ABD"}; err != nil || !slices.Equal(tags, want) {
		t.Errorf("ConnectionTags: %q (%v), want %q", tags, err, want)
	}
	if err := db.InsertDeadNodes(t.Context(), []string{"ABCz"}); err != nil {
		t.Fatal(err)
	}
	got := sweep(t, db, "ABCz")
	want := []string{"ABCz", "ABCzconn000001=", "ABCzé", long}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the sweep of ABCz took %d ids %q, want %q", len(got), got, want)
	}
	db2 := openDB(t, pglocal.Schema(t))
	for i := range 2000 {
		if err := db2.CreateConnection(t.Context(), &chatapp.Connection{ID: fmt.Sprintf("%c%03dconn000000=", 'A'+i/1000, i%1000), RoomID: "r", UserID: "u"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if tags, err := db2.ConnectionTags(t.Context(), 4); err != nil || len(tags) != 2000 {
		t.Errorf("ConnectionTags of 2,000 tags: %d (%v)", len(tags), err)
	}
}
