package nats

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/budget"
	"github.com/chatapp-dev/chatapp/internal/logtest"
)

// history is a room's stored messages, oldest first, as a store pages
// them; failures makes that many reads fail first.
type history struct {
	mu       sync.Mutex
	messages []*chatapp.Message
	reads    int
	failures int
}

// commit stores n messages and returns them, each with its PrevID.
func (h *history) commit(n int) []*chatapp.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*chatapp.Message
	for range n {
		id, ms := chatapp.NextMessageID()
		m := &chatapp.Message{ID: id, RoomID: "room", Timestamp: ms, Text: "t", UserID: "u"}
		if len(h.messages) > 0 {
			m.PrevID = h.messages[len(h.messages)-1].ID
		}
		h.messages = append(h.messages, m)
		out = append(out, m)
	}
	return out
}

func (h *history) FindMessages(_ context.Context, f chatapp.MessageFilter) (chatapp.MessagePage, error) {
	if err := f.Validate(); err != nil {
		return chatapp.MessagePage{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	if h.failures > 0 {
		h.failures--
		return chatapp.MessagePage{}, errors.New("the store is down")
	}
	if f.After == "" { // the latest page
		from := max(len(h.messages)-f.Limit, 0)
		return chatapp.MessagePage{Messages: slices.Clone(h.messages[from:]), More: from > 0}, nil
	}
	var page chatapp.MessagePage
	for _, m := range h.messages {
		if m.ID > f.After {
			if len(page.Messages) == f.Limit {
				page.More = true
				break
			}
			page.Messages = append(page.Messages, m)
		}
	}
	return page, nil
}

func (h *history) readCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reads
}

// delivered records the ids a sequencer delivers: a push's data is its
// id, a message read from the store comes as its JSON.
type delivered struct {
	mu  sync.Mutex
	ids []string
}

func (d *delivered) deliver(frames [][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, data := range frames {
		id := string(data)
		if data[0] == '{' {
			var m chatapp.Message
			json.Unmarshal(data, &m)
			id = m.ID
		}
		d.ids = append(d.ids, id)
	}
}

func (d *delivered) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ids)
}

// newTestSequencer is a sequencer of h's room whose breaks wait wait.
func newTestSequencer(t *testing.T, h *history, wait time.Duration) (*sequencer, *delivered) {
	d := &delivered{}
	s := newSequencer("room", h, &budget.Bytes{Limit: maxHeldBytes}, d.deliver, slog.New(slog.NewTextHandler(&logtest.Buffer{}, nil)))
	s.wait = wait
	t.Cleanup(s.close)
	return s, d
}

// offer offers m's push as a node receives it.
func offer(s *sequencer, m *chatapp.Message) { s.offer(m.ID, m.PrevID, []byte(m.ID)) }

func ids(ms []*chatapp.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// waitFor polls until d has delivered want, and fails on anything else.
func waitFor(t *testing.T, d *delivered, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := d.list()
		if slices.Equal(got, want) {
			return
		}
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) || time.Now().After(deadline) {
			t.Fatalf("delivered %d: %v\nwant %d: %v", len(got), got, len(want), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSequencerDeliversOutOfOrderArrivalsInOrder: pushes that arrive in any
// order are delivered in the chain's order, each once, without a read of
// the store beyond the start.
func TestSequencerDeliversOutOfOrderArrivalsInOrder(t *testing.T) {
	h := &history{}
	s, d := newTestSequencer(t, h, time.Hour)
	s.sync() // the start: an empty room
	ms := h.commit(6)
	for _, i := range []int{2, 0, 1, 5, 3, 1, 4, 0} { // 0 and 1 twice
		offer(s, ms[i])
	}
	waitFor(t, d, ids(ms))
	if n := h.readCount(); n != 1 {
		t.Errorf("the store was read %d times, want once (the start)", n)
	}
}

// TestSequencerFillsGapsFromTheStore: pushes the broker lost are read from
// the store once a break has waited its time, and delivered in order
// with those held behind them; pushes lost after the last one held are
// read on a sync (a reconnect); late ones are dropped.
func TestSequencerFillsGapsFromTheStore(t *testing.T) {
	h := &history{}
	h.commit(3) // before the start: in the history a member reads on connecting
	s, d := newTestSequencer(t, h, 10*time.Millisecond)
	s.sync()
	ms := h.commit(5)
	for _, i := range []int{1, 3, 4} { // 0 and 2 lost
		offer(s, ms[i])
	}
	waitFor(t, d, ids(ms))
	lost := h.commit(2)
	s.sync() // the broker came back
	ms = append(ms, lost...)
	waitFor(t, d, ids(ms))
	offer(s, ms[2]) // late: dropped
	offer(s, lost[1])
	next := h.commit(1)
	offer(s, next[0])
	waitFor(t, d, append(ids(ms), next[0].ID))
}

// TestSequencerFillsPageByPage: a reconnect after more than a page of
// messages reads every page.
func TestSequencerFillsPageByPage(t *testing.T) {
	h := &history{}
	s, d := newTestSequencer(t, h, time.Hour)
	s.sync()
	ms := h.commit(2*chatapp.MaxHistoryLimit + 10)
	s.sync()
	waitFor(t, d, ids(ms))
}

// TestSequencerStartsFromTheStore: pushes that arrive before the room's
// start are held; once started from the room's last id, those at or below
// it are dropped (the member's catch-up read has them) and the rest are
// delivered in order.
func TestSequencerStartsFromTheStore(t *testing.T) {
	h := &history{}
	s, d := newTestSequencer(t, h, time.Hour)
	before := h.commit(3)
	offer(s, before[2])
	offer(s, before[1])
	after := h.commit(2)
	offer(s, after[1])
	h.mu.Lock()
	h.messages = h.messages[:3] // the start reads the room before after[0] is committed
	h.mu.Unlock()
	s.sync()
	if got := d.list(); len(got) != 0 {
		t.Fatalf("delivered %v before the chain reached them", got)
	}
	offer(s, after[0])
	waitFor(t, d, ids(after))
}

// TestSequencerRetriesAFailedRead: a read of the store that fails is tried
// again, the start and a fill alike; nothing is skipped meanwhile.
func TestSequencerRetriesAFailedRead(t *testing.T) {
	h := &history{failures: 2}
	s, d := newTestSequencer(t, h, 10*time.Millisecond)
	s.sync() // fails: the start is tried again
	for h.readCount() < 3 {
		time.Sleep(time.Millisecond)
	}
	h.mu.Lock()
	h.failures = 2
	h.mu.Unlock()
	ms := h.commit(4)
	offer(s, ms[3])
	offer(s, ms[1])
	waitFor(t, d, ids(ms))
}

// TestSequencerDeliversNothingOnceClosed: a closed room's sequencer drops
// what comes, held pushes and fills alike.
func TestSequencerDeliversNothingOnceClosed(t *testing.T) {
	h := &history{}
	s, d := newTestSequencer(t, h, time.Millisecond)
	s.sync()
	ms := h.commit(3)
	offer(s, ms[0])
	offer(s, ms[2])
	s.close()
	offer(s, ms[1])
	s.sync()
	time.Sleep(20 * time.Millisecond)
	if got := d.list(); !slices.Equal(got, ids(ms[:1])) {
		t.Fatalf("delivered %v, want only %s (before the close)", got, ms[0].ID)
	}
}

// TestSequencersHoldWithinTheNodesBudget: a node cut off from the store
// while pushes with a break keep coming holds no more bytes than its
// budget, across its rooms: past it pushes are dropped, and a room whose
// read failed drops what it holds. Once the store answers, every room
// still gets every message once, in order, the dropped ones read from the
// store, a room that could hold nothing at all included.
func TestSequencersHoldWithinTheNodesBudget(t *testing.T) {
	const rooms, each, fit = 3, 20, 10
	pushBytes := held{id: leastID, data: []byte(leastID)}.size(leastID) // a push of these tests
	budget := &budget.Bytes{Limit: fit * pushBytes}
	var histories []*history
	var sent [][]*chatapp.Message
	var got []*delivered
	for range rooms {
		h := &history{}
		s, d := newTestSequencer(t, h, 10*time.Millisecond)
		s.budget = budget
		s.sync() // the start: an empty room
		h.mu.Lock()
		h.failures = 1 << 30 // the store is out of reach from now on
		h.mu.Unlock()
		ms := h.commit(each)
		for _, m := range ms[1:] { // the first one lost: a break
			offer(s, m)
			if used := budget.Held(); used > budget.Limit {
				t.Fatalf("the rooms hold %d bytes, past the budget of %d", used, budget.Limit)
			}
		}
		histories, sent, got = append(histories, h), append(sent, ms), append(got, d)
	}
	for deadline := time.Now().Add(10 * time.Second); budget.Held() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the rooms still hold %d bytes after their reads failed, want none", budget.Held())
		}
	}
	for _, h := range histories {
		h.mu.Lock()
		h.failures = 0 // the store answers again
		h.mu.Unlock()
	}
	for i := range rooms {
		waitFor(t, got[i], ids(sent[i]))
	}
	if used := budget.Held(); used != 0 {
		t.Errorf("the rooms hold %d bytes with every message delivered, want none", used)
	}
}

// TestSequencerReadsWhatItCouldNotHold: a push past the node's budget,
// with nothing held in its room, is read from the store after the
// break's wait, with the message lost before it.
func TestSequencerReadsWhatItCouldNotHold(t *testing.T) {
	h := &history{}
	s, d := newTestSequencer(t, h, 10*time.Millisecond)
	s.budget = &budget.Bytes{Limit: 1} // no push fits
	s.sync()
	ms := h.commit(2)
	offer(s, ms[1]) // the first one lost; this one cannot be held
	waitFor(t, d, ids(ms))
}

// offer offers one push: the push of message id, stored right after prev.
func (s *sequencer) offer(id, prev string, data []byte) {
	s.offerAll([]offered{{id, prev, data}})
}
