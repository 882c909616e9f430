package handler

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// TestEncodeHistoryOneMessageAtLeast: a budget smaller than any message
// still gives one message a page, the newest of a latest page or the oldest
// of an after= page, with the cursor or has_more to go on; a budget that
// fits the page changes nothing.
func TestEncodeHistoryOneMessageAtLeast(t *testing.T) {
	var ms []*chatapp.Message
	for _, id := range []string{"01A", "01B", "01C"} {
		ms = append(ms, &chatapp.Message{ID: id, RoomID: "r", Text: strings.Repeat("<", 100)})
	}
	type body struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		NextCursor string `json:"next_cursor"`
		HasMore    bool   `json:"has_more"`
	}
	for _, c := range []struct {
		name   string
		more   bool
		after  bool
		budget int
		ids    string
		cursor string
		has    bool
	}{
		{"latest, tiny budget", false, false, 1, "01C", "01C", false},
		{"after, tiny budget", false, true, 1, "01A", "", true},
		{"latest, fits", false, false, 1 << 20, "01A 01B 01C", "", false},
		{"latest, fits, more", true, false, 1 << 20, "01A 01B 01C", "01A", false},
		{"after, fits", false, true, 1 << 20, "01A 01B 01C", "", false},
		{"after, fits, more", true, true, 1 << 20, "01A 01B 01C", "", true},
		{"latest, two fit", false, false, historyEnvelope + 2*200, "01B 01C", "01B", false},
		{"after, two fit", false, true, historyEnvelope + 2*200, "01A 01B", "", true},
	} {
		s, err := encodeHistory(chatapp.MessagePage{Messages: ms, More: c.more}, c.after, c.budget)
		if err != nil {
			t.Fatal(err)
		}
		var b body
		if err := json.Unmarshal([]byte(s), &b); err != nil {
			t.Fatalf("%s: %v in %s", c.name, err, s)
		}
		var ids []string
		for _, m := range b.Messages {
			ids = append(ids, m.ID)
		}
		if got := strings.Join(ids, " "); got != c.ids || b.NextCursor != c.cursor || b.HasMore != c.has {
			t.Errorf("%s: ids %q cursor %q has_more %v, want %q %q %v", c.name, got, b.NextCursor, b.HasMore, c.ids, c.cursor, c.has)
		}
	}
	if s, _ := encodeHistory(chatapp.MessagePage{}, false, 1); s != `{"messages":[]}` {
		t.Errorf("empty page: %s", s)
	}
}

// TestEncodedNeverBelowStoredSize: historyLoadBytes relies on a message's
// JSON, as encodeHistory writes it, never being shorter than its
// StoredSize: then the store loads every message the body could hold.
func TestEncodedNeverBelowStoredSize(t *testing.T) {
	e := getEncoder()
	defer e.put()
	for _, s := range []string{"", "a", "<>&", `"\`, "\x01\x1f\x7f", "\u2028\u2029", "é", "😀", "\ufffd", "日本語"} {
		m := &chatapp.Message{ID: "01KAZ3F4J7Q9V2C8N6M5T0R1WX", RoomID: "r" + s, UserID: "u", Name: s, Text: strings.Repeat(s, 100) + "x"}
		b, err := e.encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < m.StoredSize() {
			t.Errorf("%q: JSON of %d bytes, below its StoredSize %d", s, len(b), m.StoredSize())
		}
	}
}
