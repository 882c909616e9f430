package chatapp_test

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/storetest"
)

func TestValidMessageID(t *testing.T) {
	id := storetest.MessageID(time.Now())
	tests := []struct {
		s  string
		ok bool
	}{
		{id, true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"", false},
		{"garbage", false},
		{id[:25], false},
		{id + "A", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA!", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", false}, // U is not in Crockford's base32
		{"81ARZ3NDEKTSV4RRFFQ69G5FAV", false}, // overflows 128 bits
	}
	for _, tt := range tests {
		if got := chatapp.ValidMessageID(tt.s); got != tt.ok {
			t.Errorf("ValidMessageID(%q) = %v, want %v", tt.s, got, tt.ok)
		}
	}
}

func TestConnectionWants(t *testing.T) {
	plain := &chatapp.Connection{}
	presence := &chatapp.Connection{Presence: true}
	if !plain.Wants(chatapp.PushMessage) || !presence.Wants(chatapp.PushMessage) {
		t.Error("every connection wants messages")
	}
	if plain.Wants(chatapp.PushPresence) {
		t.Error("a connection without presence wants presence events")
	}
	if !presence.Wants(chatapp.PushPresence) {
		t.Error("a presence connection does not want presence events")
	}
}

// TestNextMessageIDAlwaysIncreases: when the wall clock steps back (NTP),
// ids still increase, keeping the later millisecond, and each id's time is
// its id's millisecond.
func TestNextMessageIDAlwaysIncreases(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	readings := []time.Time{t0, t0.Add(time.Millisecond), t0, t0.Add(-time.Second), t0.Add(2 * time.Millisecond)}
	i := 0
	defer chatapp.SetClock(func() time.Time { r := readings[min(i, len(readings)-1)]; i++; return r })()
	var last string
	var lastMS int64
	for range readings {
		id, ms := chatapp.NextMessageID()
		u, err := ulid.ParseStrict(id)
		if err != nil || int64(u.Time()) != ms {
			t.Fatalf("id %s: %v, time %d, want %d", id, err, u.Time(), ms)
		}
		if id <= last || ms < lastMS {
			t.Fatalf("id %s (ms %d) after %s (ms %d): not increasing", id, ms, last, lastMS)
		}
		last, lastMS = id, ms
	}
	if want := t0.Add(2 * time.Millisecond).UnixMilli(); lastMS != want {
		t.Errorf("last id at ms %d, want %d", lastMS, want)
	}
}

// TestNextMessageIDIgnoresOtherTimes: ids made for other times between two
// stored messages of one millisecond do not let the second sort first.
func TestNextMessageIDIgnoresOtherTimes(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	defer chatapp.SetClock(func() time.Time { return t0 })()
	last, _ := chatapp.NextMessageID()
	for i := range 200 {
		storetest.MessageID(t0.Add(-time.Hour)) // a cursor, as a reader makes one
		id, _ := chatapp.NextMessageID()
		if id <= last {
			t.Fatalf("id %d %s does not sort after %s", i, id, last)
		}
		last = id
	}
}
