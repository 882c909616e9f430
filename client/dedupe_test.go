package client

import (
	"slices"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
)

func idAt(ms uint64, n byte) string {
	var u ulid.ULID
	u.SetTime(ms)
	u[15] = n
	return u.String()
}

func TestDedupeAccept(t *testing.T) {
	d := newDedupe()
	a, b, c := idAt(1000, 1), idAt(1000, 2), idAt(1001, 1)
	if !d.accept(b) || !d.accept(a) || !d.accept(c) {
		t.Fatal("new ids refused")
	}
	if d.accept(a) || d.accept(b) || d.accept(c) {
		t.Fatal("a duplicate was accepted")
	}
	if d.last != c {
		t.Errorf("watermark %s, want %s", d.last, c)
	}
	// The history read at Dial counts as delivered; an older id that was
	// not in it is new: committed out of id order after the read.
	d.started([]string{idAt(2000, 0)}, idAt(2000, 0))
	if d.accept(idAt(2000, 0)) {
		t.Error("an id of the history read at Dial was accepted")
	}
	if !d.accept(idAt(1500, 0)) {
		t.Error("an id under the history read at Dial, and not in it, was refused")
	}
}

func TestDedupeWindow(t *testing.T) {
	d := newDedupe()
	var ids []string
	for i := range seenWindow + 10 {
		id := idAt(uint64(1000+i), 0)
		ids = append(ids, id)
		if !d.accept(id) {
			t.Fatalf("id %d refused", i)
		}
	}
	if len(d.seen) != seenWindow {
		t.Errorf("seen holds %d ids, want %d", len(d.seen), seenWindow)
	}
	// Evicted ids stay refused: they are at or under the evicted mark.
	for i, id := range ids {
		if d.accept(id) {
			t.Fatalf("id %d accepted twice", i)
		}
	}
}

func TestDedupeMerge(t *testing.T) {
	d := newDedupe()
	m := func(id string) *chatapp.Message { return &chatapp.Message{ID: id} }
	x, y, z := idAt(10, 0), idAt(20, 0), idAt(30, 0)
	d.accept(x)
	got := d.merge([]*chatapp.Message{m(z), m(x), m(y), m(z)})
	var ids []string
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	if want := []string{y, z}; !slices.Equal(ids, want) {
		t.Errorf("merge gave %v, want %v", ids, want)
	}
}
