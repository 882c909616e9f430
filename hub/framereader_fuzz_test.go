package hub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/gobwas/ws"
)

// FuzzMessageReader feeds any bytes, as a client's connection would deliver
// them (all at once or in chunks of any size), to the real frame reader:
// messageReader over lazyReader. What it reads must be what RFC 6455 says
// the bytes are (referenceRead, written here independently), and whatever
// the bytes declare:
//   - it never panics, and ends only at the end of the input, on a
//     protocol error, on a frame over the frame limit or on a message
//     over the limit;
//   - a data message is text or binary and within the limit, a control
//     frame at most 125 bytes;
//   - the memory it holds or hands out follows the bytes it was fed, not
//     the lengths they declare (at most 2×fed + payloadStep, and the
//     allocator's rounding), and so does what it allocates in all;
//   - having read all it was fed, it holds no read buffer.
//
// The seeds in testdata/fuzz/FuzzMessageReader include the lengths that
// crashed the server (a continuation whose declared length overflowed the
// size check).
func FuzzMessageReader(f *testing.F) {
	f.Add(clientFrameBytes(true, ws.OpText, []byte("hello")), uint8(0), uint16(0))
	// The largest limits: a frame limit of 16,384, and a frame just over it.
	f.Add(clientFrameBytes(true, ws.OpText, make([]byte, 16385)), uint8(0), uint16(65535))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, limit16 uint16) {
		// A quarter of the limit, rounded up, computed in int64: in uint16,
		// limit16+3 wraps to 0 (no frame limit) from 65533 up.
		limit, frameLimit := int64(limit16), (int64(limit16)+3)/4
		if limit == 0 {
			limit, frameLimit = maxPayloadBytes, maxFrameBytes
		}
		want, wantEnd := referenceRead(data, limit, frameLimit)

		src := &trickleReader{data: data, chunk: int(chunk)}
		lr := &lazyReader{conn: src}
		mr := &messageReader{r: lr, limit: limit, frameLimit: frameLimit}
		var got []message
		var end error
		for {
			msg, err := mr.next()
			if err != nil {
				end = err
				break
			}
			checkMessage(t, msg, limit)
			if held := int64(cap(msg.payload)); held > heldBound(src.fed) {
				t.Fatalf("a message of %d bytes holds %d after %d bytes fed", len(msg.payload), held, src.fed)
			}
			got = append(got, msg)
		}
		if held := int64(cap(mr.partial.payload)); held > heldBound(src.fed) {
			t.Fatalf("the reader holds %d bytes of a message after %d bytes fed", held, src.fed)
		}
		switch {
		case end == io.EOF || end == io.ErrUnexpectedEOF:
			if wantEnd != io.EOF && wantEnd != io.ErrUnexpectedEOF || wantEnd == io.EOF && end != io.EOF {
				t.Fatalf("ended with %v, want %v", end, wantEnd)
			}
			if lr.buf != nil {
				t.Fatal("the reader holds a buffer after reading all it was fed")
			}
		case end != wantEnd:
			t.Fatalf("ended with %v, want %v", end, wantEnd)
		}
		if len(got) != len(want) {
			t.Fatalf("read %d messages, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].op != want[i].op || got[i].more != want[i].more || !bytes.Equal(got[i].payload, want[i].payload) {
				t.Fatalf("message %d: %d %.40q more=%v, want %d %.40q more=%v", i, got[i].op, got[i].payload, got[i].more, want[i].op, want[i].payload, want[i].more)
			}
		}

		// All it allocates, not only what it keeps: the least over a few
		// runs, as another goroutine may allocate meanwhile. Skipped under
		// the race detector, whose sync.Pool drops buffers on purpose.
		if !raceEnabled {
			bound := 4*uint64(len(data)) + 4*lazyBufferSize
			if alloc := leastAllocated(3, bound, func() { readAll(data, int(chunk), limit, frameLimit) }); alloc > bound {
				t.Fatalf("reading %d bytes allocated %d", len(data), alloc)
			}
		}
	})
}

// checkMessage checks what any message read must be.
func checkMessage(t *testing.T, msg message, limit int64) {
	t.Helper()
	if msg.more {
		if msg.op != ws.OpText && msg.op != ws.OpBinary && msg.op != ws.OpContinuation || msg.payload != nil {
			t.Fatalf("a fragment handed out with opcode %d and %d bytes", msg.op, len(msg.payload))
		}
		return
	}
	switch msg.op {
	case ws.OpText, ws.OpBinary:
		if int64(len(msg.payload)) > limit {
			t.Fatalf("a message of %d bytes, over the limit of %d", len(msg.payload), limit)
		}
	case ws.OpClose, ws.OpPing, ws.OpPong:
		if len(msg.payload) > 125 {
			t.Fatalf("a control frame of %d bytes", len(msg.payload))
		}
	default:
		t.Fatalf("a message with opcode %d", msg.op)
	}
}

// trickleReader hands out its data chunk bytes at a time (all at once when
// chunk is 0), as a socket does, and counts what it handed out.
type trickleReader struct {
	data  []byte
	chunk int
	fed   int64
}

func (r *trickleReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.chunk > 0 && len(p) > r.chunk {
		p = p[:r.chunk]
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	r.fed += int64(n)
	return n, nil
}

func readAll(data []byte, chunk int, limit, frameLimit int64) {
	mr := &messageReader{r: &lazyReader{conn: &trickleReader{data: data, chunk: chunk}}, limit: limit, frameLimit: frameLimit}
	for {
		if _, err := mr.next(); err != nil {
			return
		}
	}
}

// leastAllocated returns the fewest bytes that f allocated in up to runs
// runs, stopping at the first within bound.
func leastAllocated(runs int, bound uint64, f func()) uint64 {
	var before, after runtime.MemStats
	least := ^uint64(0)
	for range runs {
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if least = min(least, after.TotalAlloc-before.TotalAlloc); least <= bound {
			break
		}
	}
	return least
}

// Reasons a reference read ends, besides the input's end (io.EOF at a frame
// boundary, io.ErrUnexpectedEOF within a frame).
var (
	refProtocol      = errProtocol
	refFrameTooBig   = errFrameTooBig
	refMessageTooBig = errMessageTooBig
)

// referenceRead is RFC 6455 §5 as the gateway applies it, written from the
// RFC over the whole input at once: client frames are masked, no extension
// sets a reserved bit or uses a reserved opcode, a length's most
// significant bit is 0, a control frame is final and at most 125 bytes and
// may come between the fragments of a message, a continuation continues
// one and only one, a data frame is at most frameLimit bytes (0: no
// limit of its own) and a message at most limit bytes.
func referenceRead(data []byte, limit, frameLimit int64) ([]message, error) {
	var out []message
	var partial []byte
	var partialOp ws.OpCode
	inMessage := false
	for {
		if len(data) == 0 {
			return out, io.EOF
		}
		if len(data) < 2 {
			return out, io.ErrUnexpectedEOF
		}
		fin, rsv, op := data[0]&0x80 != 0, data[0]&0x70, ws.OpCode(data[0]&0x0f)
		masked, length7 := data[1]&0x80 != 0, data[1]&0x7f
		ext := 0
		switch length7 {
		case 126:
			ext = 2
		case 127:
			ext = 8
		}
		maskAt := 2 + ext
		headerLen := maskAt
		if masked {
			headerLen += 4
		}
		if len(data) < headerLen {
			return out, io.ErrUnexpectedEOF
		}
		var length uint64
		switch ext {
		case 0:
			length = uint64(length7)
		case 2:
			length = uint64(binary.BigEndian.Uint16(data[2:]))
		case 8:
			length = binary.BigEndian.Uint64(data[2:])
			if length>>63 != 0 {
				return out, refProtocol
			}
		}
		known := op == ws.OpContinuation || op == ws.OpText || op == ws.OpBinary ||
			op == ws.OpClose || op == ws.OpPing || op == ws.OpPong
		if rsv != 0 || !masked || !known {
			return out, refProtocol
		}
		control := op >= ws.OpClose
		switch {
		case control && (!fin || length > 125):
			return out, refProtocol
		case control:
		case op == ws.OpContinuation && !inMessage, op != ws.OpContinuation && inMessage:
			return out, refProtocol
		case frameLimit > 0 && length > uint64(frameLimit):
			return out, refFrameTooBig
		case length > uint64(limit-int64(len(partial))):
			return out, refMessageTooBig
		}
		mask := data[maskAt:headerLen]
		data = data[headerLen:]
		if uint64(len(data)) < length {
			return out, io.ErrUnexpectedEOF
		}
		payload := make([]byte, length)
		for i := range payload {
			payload[i] = data[i] ^ mask[i%4]
		}
		data = data[length:]
		switch {
		case control:
			out = append(out, message{op: op, payload: payload})
			continue
		case !inMessage:
			partial, partialOp, inMessage = nil, op, true
		}
		partial = append(partial, payload...)
		if fin {
			out = append(out, message{op: partialOp, payload: partial})
			partial, inMessage = nil, false
		} else {
			out = append(out, message{op: op, more: true})
		}
	}
}

// clientFrameBytes is a masked client frame.
func clientFrameBytes(fin bool, op ws.OpCode, payload []byte) []byte {
	return rawFrame(fin, op, uint64(len(payload)), false, payload)
}

// TestReferenceReadAgreesOnKnownFrames keeps the fuzz target's reference
// honest on frames whose reading is known.
func TestReferenceReadAgreesOnKnownFrames(t *testing.T) {
	frag := append(clientFrameBytes(false, ws.OpText, []byte("frag-")), clientFrameBytes(true, ws.OpPing, []byte("p"))...)
	frag = append(frag, clientFrameBytes(true, ws.OpContinuation, []byte("ment"))...)
	msgs, end := referenceRead(frag, maxPayloadBytes, maxFrameBytes)
	if end != io.EOF || len(msgs) != 3 || !msgs[0].more || string(msgs[1].payload) != "p" || msgs[2].op != ws.OpText || string(msgs[2].payload) != "frag-ment" {
		t.Fatalf("fragments around a ping: %v %+v", end, msgs)
	}
	if _, end := referenceRead(rawFrame(true, ws.OpText, 11, false, nil), 10, 0); !errors.Is(end, errMessageTooBig) {
		t.Fatalf("over the limit: %v", end)
	}
	if _, end := referenceRead(rawFrame(true, ws.OpText, 7, false, nil), 10, 6); !errors.Is(end, errFrameTooBig) {
		t.Fatalf("over the frame limit: %v", end)
	}
	twoFrames := append(clientFrameBytes(false, ws.OpText, []byte("abcdef")), clientFrameBytes(true, ws.OpContinuation, []byte("ghijk"))...)
	if _, end := referenceRead(twoFrames, 10, 6); !errors.Is(end, errMessageTooBig) {
		t.Fatalf("frames within the frame limit, a message over the limit: %v", end)
	}
	mr := &messageReader{r: &lazyReader{conn: bytes.NewReader(twoFrames)}, limit: 10, frameLimit: 6}
	if _, err := mr.next(); err != nil {
		t.Fatalf("the first fragment: %v", err)
	}
	if _, err := mr.next(); !errors.Is(err, errMessageTooBig) {
		t.Fatalf("the reader, frames within the frame limit, a message over the limit: %v", err)
	}
	if _, end := referenceRead(rawFrame(true, ws.OpText, 1<<63, true, nil), 10, 0); !errors.Is(end, errProtocol) {
		t.Fatalf("a length with its top bit set: %v", end)
	}
}
