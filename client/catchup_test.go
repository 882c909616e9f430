package client

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestResumeAfter(t *testing.T) {
	d := newDedupe()
	if got := d.resumeAfter(); got != zeroID {
		t.Errorf("empty: %s, want the zero id", got)
	}
	ms := uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	last := idAt(ms, 7)
	d.accept(last)
	got, err := ulid.ParseStrict(d.resumeAfter())
	if err != nil {
		t.Fatal(err)
	}
	if want := ms - uint64(catchUpOverlap.Milliseconds()); got.Time() != want {
		t.Errorf("resume at %d, want %d", got.Time(), want)
	}
	// Never below the history read at Dial.
	start := idAt(ms-1, 0)
	d.started(nil, start)
	if got := d.resumeAfter(); got != start {
		t.Errorf("resume at %s, want the start %s", got, start)
	}
}
