package chatapp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

func TestErrorFunctions(t *testing.T) {
	notFound := chatapp.Errorf(chatapp.ENOTFOUND, "room %s not found", "lobby")
	tests := []struct {
		name    string
		err     error
		code    string
		message string
		status  int
	}{
		{"chatapp error", notFound, chatapp.ENOTFOUND, "room lobby not found", http.StatusNotFound},
		{"wrapped", fmt.Errorf("find room: %w", notFound), chatapp.ENOTFOUND, "room lobby not found", http.StatusNotFound},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", chatapp.Errorf(chatapp.ETOOLARGE, "big"))), chatapp.ETOOLARGE, "big", http.StatusRequestEntityTooLarge},
		{"joined", errors.Join(errors.New("x"), chatapp.Errorf(chatapp.EGONE, "gone")), chatapp.EGONE, "gone", http.StatusGone},
		{"plain error", errors.New("disk on fire at /var/lib/x"), chatapp.EINTERNAL, "internal error", http.StatusInternalServerError},
		{"wrapped plain error", fmt.Errorf("query: %w", errors.New("secret detail")), chatapp.EINTERNAL, "internal error", http.StatusInternalServerError},
		{"unknown code", chatapp.Errorf("weird", "w"), "weird", "w", http.StatusInternalServerError},
		// nil has no code and no message; ErrorStatus is only meant for
		// errors and falls back to 500.
		{"nil", nil, "", "", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chatapp.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := chatapp.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
			if got := chatapp.ErrorStatus(tt.err); got != tt.status {
				t.Errorf("ErrorStatus = %d, want %d", got, tt.status)
			}
			b := chatapp.EncodeError(tt.err)
			var body map[string]map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("EncodeError = %s: %v", b, err)
			}
			want := map[string]map[string]any{"error": {"code": tt.code, "message": tt.message}}
			if fmt.Sprint(body) != fmt.Sprint(want) || len(body) != 1 || len(body["error"]) != 2 {
				t.Errorf("EncodeError = %s, want %v", b, want)
			}
		})
	}
}

func TestErrorStatusOfEveryCode(t *testing.T) {
	tests := map[string]int{
		chatapp.EINVALID:      400,
		chatapp.EUNAUTHORIZED: 401,
		chatapp.EFORBIDDEN:    403,
		chatapp.ENOTFOUND:     404,
		chatapp.ENOTALLOWED:   405,
		chatapp.ECONFLICT:     409,
		chatapp.EGONE:         410,
		chatapp.ETOOLARGE:     413,
		chatapp.ERATELIMIT:    429,
		chatapp.EINTERNAL:     500,
		chatapp.EUNAVAILABLE:  503,
	}
	for code, status := range tests {
		if got := chatapp.ErrorStatus(chatapp.Errorf(code, "m")); got != status {
			t.Errorf("ErrorStatus(%s) = %d, want %d", code, got, status)
		}
	}
}

func TestErrorString(t *testing.T) {
	err := chatapp.Errorf(chatapp.EINVALID, "room_id is %s", "required")
	if got, want := err.Error(), "chatapp: code=invalid message=room_id is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := string(chatapp.EncodeError(err)), `{"error":{"code":"invalid","message":"room_id is required"}}`; got != want {
		t.Errorf("EncodeError = %s, want %s", got, want)
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
