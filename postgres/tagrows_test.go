package postgres

import (
	"slices"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestConnectionsOfTags: the rows of some tags are exactly those whose
// ids begin with one of them, neighbours in the key's order left out; the
// tags listed are every id's first characters, once each, an id shorter
// than a tag included and the ids that it begins not hidden by it.
func TestConnectionsOfTags(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	ids := []string{"AAAAone00000000=", "AAAAtwo00000000=", "AAABone00000000=", "AAAzone00000000=", "AAA",
		"AAAyone00000000=", "ABCDone00000000=", "ABCD", "zzzzone00000000=", "c1="}
	for _, id := range ids {
		if err := db.CreateConnection(t.Context(), &chatapp.Connection{ID: id, RoomID: "r", UserID: "u"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		tags []string
		want []string
	}{
		{[]string{"AAAA"}, []string{"AAAAone00000000=", "AAAAtwo00000000="}},
		{[]string{"AAAz", "ABCD", ""}, []string{"AAAzone00000000=", "ABCD", "ABCDone00000000="}},
		{[]string{"NONE"}, nil},
		{nil, nil},
	} {
		conns, err := db.ListConnectionsOfTags(t.Context(), tc.tags)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range conns {
			got = append(got, c.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListConnectionsOfTags(%q): %v, want %v", tc.tags, got, tc.want)
		}
	}
	tags, err := db.ConnectionTags(t.Context(), 4)
	want := []string{"AAA", "AAAA", "AAAB", "AAAy", "AAAz", "ABCD", "c1=", "zzzz"}
	if err != nil || !slices.Equal(tags, want) {
		t.Errorf("ConnectionTags: %v (%v), want %v", tags, err, want)
	}
}
