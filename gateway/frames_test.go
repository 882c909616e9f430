package gateway

import (
	"bytes"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// chunkReader hands out its data in the chunks given, as a socket does.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func clientFrame(t *testing.T, op ws.OpCode, fin bool, payload string) []byte {
	t.Helper()
	var b bytes.Buffer
	f := ws.MaskFrame(ws.NewFrame(op, fin, []byte(payload)))
	if err := ws.WriteFrame(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMessageReaderOverLazyReader: frames arriving together, split, and
// fragmented around a ping come out whole, and the reader holds no buffer
// once it has handed out what arrived.
func TestMessageReaderOverLazyReader(t *testing.T) {
	big := string(bytes.Repeat([]byte("b"), 40<<10))
	two := append(clientFrame(t, ws.OpText, true, "one"), clientFrame(t, ws.OpText, true, "two")...)
	split := clientFrame(t, ws.OpText, true, "split across reads")
	frag := append(clientFrame(t, ws.OpText, false, "frag-"), clientFrame(t, ws.OpPing, true, "p")...)
	frag = append(frag, clientFrame(t, ws.OpContinuation, true, "ment")...)
	src := &chunkReader{chunks: [][]byte{two, split[:5], split[5:], frag, clientFrame(t, ws.OpText, true, big)}}
	lr := &lazyReader{conn: src}
	mr := &messageReader{r: lr, limit: MaxFrameBytes}
	want := []message{{ws.OpText, []byte("one")}, {ws.OpText, []byte("two")}, {ws.OpText, []byte("split across reads")},
		{ws.OpPing, []byte("p")}, {ws.OpText, []byte("frag-ment")}, {ws.OpText, []byte(big)}}
	for i, w := range want {
		got, err := mr.next()
		if err != nil || got.op != w.op || !bytes.Equal(got.payload, w.payload) {
			t.Fatalf("message %d: %v %d %.20q, want %d %.20q", i, err, got.op, got.payload, w.op, w.payload)
		}
	}
	if lr.buf != nil {
		t.Error("the reader holds a buffer with nothing left to read")
	}
	if _, err := mr.next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

// TestMessageReaderRefuses: unmasked, oversize and reserved-bit frames end
// the connection.
func TestMessageReaderRefuses(t *testing.T) {
	var unmasked bytes.Buffer
	ws.WriteFrame(&unmasked, ws.NewTextFrame([]byte("x")))
	var oversize bytes.Buffer
	ws.WriteHeader(&oversize, ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Length: MaxFrameBytes + 1})
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"unmasked":           {unmasked.Bytes(), errProtocol},
		"oversize":           {oversize.Bytes(), errMessageTooBig},
		"continuation first": {clientFrame(t, ws.OpContinuation, true, "x"), errProtocol},
	} {
		mr := &messageReader{r: &lazyReader{conn: bytes.NewReader(c.data)}, limit: MaxFrameBytes}
		if _, err := mr.next(); err != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
