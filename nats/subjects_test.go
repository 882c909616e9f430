package nats

import (
	"strings"
	"testing"
)

// TestRoomSubject: every room id the chat takes ([A-Za-z0-9-_.:@+]) is
// one token of a valid subject, and two rooms never share one.
func TestRoomSubject(t *testing.T) {
	seen := map[string]string{}
	for _, room := range []string{"lobby", "a.b", "a%2Eb", "a:b@c+d-e_f", "..", ".", "%", "Ünïcode", "a b", "*", ">"} {
		subject := roomSubject(room)
		token, ok := strings.CutPrefix(subject, roomSubjects)
		if !ok || token == "" || strings.ContainsAny(token, ".*> \t\r\n") {
			t.Errorf("room %q: subject %q is not the room prefix and one plain token", room, subject)
		}
		if other, dup := seen[subject]; dup {
			t.Errorf("rooms %q and %q share the subject %q", room, other, subject)
		}
		seen[subject] = room
	}
	if got := roomSubject("lobby:1@x+y-z_w"); got != "chatapp.room.lobby:1@x+y-z_w" {
		t.Errorf("a room of plain characters has the subject %q, want it as it is", got)
	}
}

// TestTagOf: a connection id minted with a node's tag names it; an id of
// another shape names none.
func TestTagOf(t *testing.T) {
	for id, want := range map[string]string{
		"Ab3xL0SM9cOFvHc=":  "Ab3x",
		"Ab3xL0SM9cOFvHc":   "",
		"Ab3xL0SM9cOFvHcI=": "",
		"A.3xL0SM9cOFvHc=":  "",
		"":                  "",
	} {
		if got := tagOf(id); got != want {
			t.Errorf("tagOf(%q) = %q, want %q", id, got, want)
		}
	}
	if tag := newTag(); len(tag) != TagLen || tagOf(tag+"L0SM9cOFvHc=") != tag {
		t.Errorf("newTag() = %q, not a tag a connection id carries", tag)
	}
}
