package hub

import (
	"bytes"
	"io"
	"testing"

	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp/internal/wstest"
)

// API Gateway's quotas, as the gateway gives them to the hub
// (gateway.MaxFrameBytes and MaxPayloadBytes).
const (
	maxFrameBytes   = 32 << 10
	maxPayloadBytes = 128 << 10
)

// rawFrame builds a masked client frame (wstest.ClientFrame).
var rawFrame = wstest.ClientFrame

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
	mr := &messageReader{r: lr, limit: maxPayloadBytes}
	want := []message{{op: ws.OpText, payload: []byte("one")}, {op: ws.OpText, payload: []byte("two")}, {op: ws.OpText, payload: []byte("split across reads")},
		{op: ws.OpText, more: true}, {op: ws.OpPing, payload: []byte("p")}, {op: ws.OpText, payload: []byte("frag-ment")}, {op: ws.OpText, payload: []byte(big)}}
	for i, w := range want {
		got, err := mr.next()
		if err != nil || got.op != w.op || got.more != w.more || !bytes.Equal(got.payload, w.payload) {
			t.Fatalf("message %d: %v %d %.20q more=%v, want %d %.20q more=%v", i, err, got.op, got.payload, got.more, w.op, w.payload, w.more)
		}
	}
	if lr.buf != nil {
		t.Error("the reader holds a buffer with nothing left to read")
	}
	if _, err := mr.next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

// TestMessageReaderRefuses: unmasked frames, a continuation first, a
// frame over the frame limit and a frame over the message limit end the
// connection.
func TestMessageReaderRefuses(t *testing.T) {
	var unmasked bytes.Buffer
	ws.WriteFrame(&unmasked, ws.NewTextFrame([]byte("x")))
	header := func(length int64) []byte {
		var b bytes.Buffer
		ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Length: length})
		return b.Bytes()
	}
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"unmasked":               {unmasked.Bytes(), errProtocol},
		"over the frame":         {header(maxFrameBytes + 1), errFrameTooBig},
		"over frame and message": {header(maxPayloadBytes + 1), errFrameTooBig},
		"continuation first":     {clientFrame(t, ws.OpContinuation, true, "x"), errProtocol},
	} {
		mr := &messageReader{r: &lazyReader{conn: bytes.NewReader(c.data)}, limit: maxPayloadBytes, frameLimit: maxFrameBytes}
		if _, err := mr.next(); err != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// TestPayloadMemoryFollowsBytesReceived: a frame that declares 128 KB is
// read into a buffer that grows with the bytes that arrive, so a client
// that declares much and sends little makes the server hold little: while
// it waits for more, the reader's buffer is at most twice what arrived,
// plus payloadStep.
func TestPayloadMemoryFollowsBytesReceived(t *testing.T) {
	payload := bytes.Repeat([]byte("p"), maxPayloadBytes)
	for _, chunk := range []int{1000, 5000, 70000} {
		src := &bufferWatcher{data: rawFrame(true, ws.OpBinary, maxPayloadBytes, true, payload), chunk: chunk}
		mr := &messageReader{r: src, limit: maxPayloadBytes}
		msg, err := mr.next()
		if err != nil || !bytes.Equal(msg.payload, payload) {
			t.Fatalf("chunks of %d: %v, %d bytes", chunk, err, len(msg.payload))
		}
		if src.worst > 0 {
			t.Errorf("chunks of %d: a read waited with a buffer of %d bytes over the bound (%d fed)", chunk, src.worst, src.worstFed)
		}
	}
}

// bufferWatcher hands out its data in chunks, and records the read whose
// buffer most exceeded what a reader may hold: 2×fed + payloadStep, and
// an eighth more for the allocator's rounding, where the buffer is the
// payload read so far (fed, less the header) and p's capacity beyond it.
type bufferWatcher struct {
	data            []byte
	chunk           int
	fed             int
	worst, worstFed int
}

func (w *bufferWatcher) Read(p []byte) (int, error) {
	if over := w.fed + cap(p) - heldBound(w.fed); over > w.worst {
		w.worst, w.worstFed = over, w.fed
	}
	if len(w.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), w.chunk)], w.data)
	w.data = w.data[n:]
	w.fed += n
	return n, nil
}

// heldBound is the most a frame reader may hold, having been fed fed bytes.
func heldBound[N int | int64](fed N) N { return (2*fed + payloadStep) * 9 / 8 }
