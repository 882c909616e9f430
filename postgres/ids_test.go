package postgres

import (
	"testing"

	"github.com/oklog/ulid/v2"
)

// TestIDAfter: the id after another is the next 128-bit number, carried
// across bytes, and sorts right after it as text; the largest has none.
func TestIDAfter(t *testing.T) {
	for _, tt := range []struct{ last, want ulid.ULID }{
		{ulid.ULID{15: 1}, ulid.ULID{15: 2}},
		{ulid.ULID{14: 3, 15: 0xff}, ulid.ULID{14: 4}},
		{ulid.ULID{5: 7, 6: 0xff, 7: 0xff, 8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}, ulid.ULID{5: 8}},
	} {
		got, err := idAfter(tt.last.String())
		if err != nil || got != tt.want.String() || got <= tt.last.String() {
			t.Errorf("idAfter(%s) = %s, %v; want %s", tt.last, got, err, tt.want)
		}
	}
	max := ulid.ULID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if got, err := idAfter(max.String()); err == nil {
		t.Errorf("idAfter(the largest id) = %s, want an error", got)
	}
}
