package nats

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/natslocal"
)

// TestBatchDataRoundTrip: a batch's data gives back its pushes, binary
// frames and empty previous ids included; data cut anywhere is refused,
// with the pushes whole before the cut.
func TestBatchDataRoundTrip(t *testing.T) {
	pushes := []offered{{"01A", "", []byte("first")}, {"01B", "01A", []byte{0, 0xff, '\n'}}, {"01C", "01B", nil}}
	var data []byte
	for _, p := range pushes {
		data = appendOffered(data, p)
	}
	got, err := parseBatch(data)
	if err != nil || !slices.EqualFunc(got, pushes, equalOffered) {
		t.Fatalf("parsed %v, %v; want %v", got, err, pushes)
	}
	for cut := 1; cut < len(data); cut++ {
		got, err := parseBatch(data[:cut])
		whole := len(appendOffered(appendOffered(nil, pushes[0]), pushes[1]))
		if err == nil && cut != len(appendOffered(nil, pushes[0])) && cut != whole {
			t.Errorf("data cut at %d of %d parsed without an error: %v", cut, len(data), got)
		}
		if !slices.EqualFunc(got, pushes[:len(got)], equalOffered) {
			t.Errorf("data cut at %d gave %v", cut, got)
		}
	}
}

func equalOffered(a, b offered) bool {
	return a.id == b.id && a.prev == b.prev && bytes.Equal(a.data, b.data)
}

// TestBatchTravelsAsOneMessage: a node's batch reaches the room's members
// on every node, its own included, all of it, as one broker message.
func TestBatchTravelsAsOneMessage(t *testing.T) {
	url := natslocal.Start(t).URL
	h := &history{}
	a, b := openNode(t, url, h), openNode(t, url, h)
	onA, onB := a.join(t, "room", false), b.join(t, "room", false)
	seen := watchRoom(t, url, "room")
	ms := h.commit(5)
	ds, err := a.BroadcastBatch(t.Context(), "room", pushesOf(ms))
	if err != nil || len(ds) != 5 || ds[4].Delivered != 1 {
		t.Fatalf("BroadcastBatch: %v, %+v", err, ds)
	}
	a.waitPending(t, onA, 5)
	b.waitPending(t, onB, 5)
	if got := seen(1); len(got) != 1 {
		t.Errorf("the batch took %d broker messages, want 1", len(got))
	}
}

// TestBatchCutToTheLargestPayload: a batch larger than the broker's
// largest payload goes as several messages, each within it, with every
// push in order.
func TestBatchCutToTheLargestPayload(t *testing.T) {
	url := natslocal.Start(t).URL
	h := &history{}
	a := openNode(t, url, h)
	seen := watchRoom(t, url, "room")
	ms := h.commit(6)
	pushes := pushesOf(ms)
	limit := int(a.nc.MaxPayload())
	for i := range pushes {
		pushes[i].Data = bytes.Repeat([]byte{byte('a' + i)}, limit/3)
	}
	if _, err := a.BroadcastBatch(t.Context(), "room", pushes); err != nil {
		t.Fatal(err)
	}
	var got []offered
	for _, m := range seen(3) {
		if len(m.Data) > limit {
			t.Errorf("a message of %d bytes, past the broker's %d", len(m.Data), limit)
		}
		part, err := parseBatch(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	if len(got) != len(ms) {
		t.Fatalf("%d pushes arrived, want %d", len(got), len(ms))
	}
	for i, p := range got {
		if p.id != ms[i].ID || p.prev != ms[i].PrevID || !bytes.Equal(p.data, pushes[i].Data) {
			t.Errorf("push %d: %s after %s, %d bytes; want %s after %s", i, p.id, p.prev, len(p.data), ms[i].ID, ms[i].PrevID)
		}
	}
}

// pushesOf is the message pushes of ms, each frame its id.
func pushesOf(ms []*chatapp.Message) []chatapp.Push {
	pushes := make([]chatapp.Push, len(ms))
	for i, m := range ms {
		pushes[i] = chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(m.ID), MessageID: m.ID, PrevID: m.PrevID}
	}
	return pushes
}

// watchRoom subscribes to the room's subject on the broker; the function
// it returns waits for n messages of it and returns what came.
func watchRoom(t *testing.T, url, room string) func(n int) []*natsgo.Msg {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan *natsgo.Msg, 64)
	if _, err := nc.ChanSubscribe(roomSubject(room), ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func(n int) []*natsgo.Msg {
		var got []*natsgo.Msg
		for len(got) < n {
			select {
			case m := <-ch:
				if m.Header.Get(headerKind) != kindMessages {
					t.Fatalf("a message of kind %q, want %q", m.Header.Get(headerKind), kindMessages)
				}
				got = append(got, m)
			case <-time.After(10 * time.Second):
				t.Fatalf("%d messages on the broker, want %d", len(got), n)
			}
		}
		select { // and nothing more
		case m := <-ch:
			t.Errorf("one more message on the broker: %s", fmt.Sprint(len(m.Data)))
		case <-time.After(100 * time.Millisecond):
		}
		return got
	}
}

// TestMalformedBatchIsReadFromTheStore: a batch cut short on the broker
// (a stranger's, or a fault) delivers what it holds whole, and what it
// lost comes from the store, after the sequencer's wait.
func TestMalformedBatchIsReadFromTheStore(t *testing.T) {
	url := natslocal.Start(t).URL
	h := &history{}
	b := openNode(t, url, h)
	onB := b.join(t, "room", false)
	ms := h.commit(2)
	data := appendOffered(nil, offered{ms[0].ID, ms[0].PrevID, []byte(ms[0].ID)})
	cut := appendOffered(nil, offered{ms[1].ID, ms[1].PrevID, []byte(ms[1].ID)})
	data = append(data, cut[:len(cut)-1]...)
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := &natsgo.Msg{Subject: roomSubject("room"), Data: data, Header: natsgo.Header{headerKind: {kindMessages}}}
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	b.waitPending(t, onB, 2)
}
