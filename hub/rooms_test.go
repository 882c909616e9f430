package hub

import (
	"slices"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// watchLog records what a RoomWatcher hears.
type watchLog []string

func (w *watchLog) RoomOpened(room string) { *w = append(*w, "open "+room) }
func (w *watchLog) RoomClosed(room string) { *w = append(*w, "close "+room) }

// TestWatchRooms: the watcher hears a room open with its first member and
// close with its last, however the member goes (Left, a move to another
// room, the client forgotten), and nothing for the members in between.
func TestWatchRooms(t *testing.T) {
	h := New(nil)
	var log watchLog
	h.WatchRooms(&log)
	a, b, c := h.Open("a=", Peer{}), h.Open("b=", Peer{}), h.Open("c=", Peer{})
	h.Joined(&chatapp.Connection{ID: "a=", RoomID: "lobby"})
	h.Joined(&chatapp.Connection{ID: "b=", RoomID: "lobby"})
	h.Joined(&chatapp.Connection{ID: "c=", RoomID: "side"})
	h.Joined(&chatapp.Connection{ID: "unknown=", RoomID: "nowhere"}) // not this hub's: ignored
	h.Left("a=")
	h.Joined(&chatapp.Connection{ID: "b=", RoomID: "side"}) // b moves: lobby is empty
	b.Forget()
	c.Forget()
	a.Forget()
	want := watchLog{"open lobby", "open side", "close lobby", "close side"}
	if !slices.Equal(log, want) {
		t.Errorf("the watcher heard %q, want %q", log, want)
	}
}

// TestJoinedConnections: the rows of the open connections that joined, in
// every room; one not joined, or gone, is left out.
func TestJoinedConnections(t *testing.T) {
	h := New(nil)
	a, b, c := h.Open("a=", Peer{}), h.Open("b=", Peer{}), h.Open("c=", Peer{})
	defer a.Forget()
	defer c.Forget()
	h.Joined(&chatapp.Connection{ID: "a=", RoomID: "lobby"})
	h.Joined(&chatapp.Connection{ID: "b=", RoomID: "side"})
	b.Forget()
	h.Open("d=", Peer{}).Forget()
	h.Joined(&chatapp.Connection{ID: "c=", RoomID: "side"})
	var ids []string
	for _, m := range h.JoinedConnections() {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a=", "c="}) {
		t.Errorf("JoinedConnections: %v, want [a= c=]", ids)
	}
}
