package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/protocol"
)

// ledger is what the senders had acknowledged, per room, and how.
type ledger struct {
	mu       sync.Mutex
	rooms    map[string]Expect
	ackHist  *shardedHist
	sent     atomic.Int64
	acked    atomic.Int64
	failed   atomic.Int64
	errMu    sync.Mutex
	errors   []string
	firstAck atomic.Int64
	lastAck  atomic.Int64
}

// writeTimeout bounds one frame's write by a benchmark client: a server
// that stops reading fails the client, never holds it.
const writeTimeout = 10 * time.Second

func newLedger() *ledger {
	return &ledger{rooms: map[string]Expect{}, ackHist: newShardedHist()}
}

func (l *ledger) ack(shard int, room string, id []byte, sentNanos int64) {
	now := time.Now().UnixNano()
	l.mu.Lock()
	e := l.rooms[room]
	e.Count++
	e.XOR ^= idHash(id)
	l.rooms[room] = e
	l.mu.Unlock()
	l.acked.Add(1)
	l.firstAck.CompareAndSwap(0, now)
	l.lastAck.Store(now)
	l.ackHist.record(shard, (now-sentNanos)/1000)
}

func (l *ledger) fail(err string) {
	l.failed.Add(1)
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if len(l.errors) < 5 {
		for _, e := range l.errors {
			if e == err {
				return
			}
		}
		l.errors = append(l.errors, err)
	}
}

// expect returns a copy of the acknowledged sets.
func (l *ledger) expect() map[string]Expect {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Expect, len(l.rooms))
	for k, v := range l.rooms {
		out[k] = v
	}
	return out
}

// senderSpec is one sender: it sends to Room as user "s<Index>", at Rate a
// second (0: as fast as acknowledgements come back), with at most Window
// sends unacknowledged.
type senderSpec struct {
	URL    string
	Mode   string // "ws" or "rest"
	Wire   wire   // the server's protocol, for "ws"
	Room   string
	Index  int
	Rate   float64
	Window int
	Size   int
	Count  int // most sends; 0 is no limit
	Client *http.Client
}

// pacer releases sends at a fixed rate, or at once when rate is 0.
type pacer struct {
	start    time.Time
	interval time.Duration
	n        int64
}

func newPacer(rate float64) *pacer {
	p := &pacer{start: time.Now()}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait blocks until the next send is due or stop comes.
func (p *pacer) wait(ctx context.Context, stop <-chan struct{}) bool {
	if p.interval == 0 {
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		default:
			return true
		}
	}
	due := p.start.Add(time.Duration(p.n) * p.interval)
	p.n++
	d := time.Until(due)
	if d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// runSender runs a WebSocket or REST sender, as spec.Mode says.
func runSender(ctx context.Context, spec senderSpec, l *ledger, stop <-chan struct{}, drain time.Duration) error {
	if spec.Mode == "rest" {
		return runRESTSender(ctx, spec, l, stop)
	}
	return runWSSender(ctx, spec, l, stop, drain)
}

// runWSSender sends over its own WebSocket until stop, then waits up to
// drain for its outstanding sends to be pushed back to it.
func runWSSender(ctx context.Context, spec senderSpec, l *ledger, stop <-chan struct{}, drain time.Duration) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := dial(dctx, spec.Client, spec.Wire.url(spec.URL, spec.Room, "s"+strconv.Itoa(spec.Index)))
	if err == nil {
		defer conn.CloseNow()
		err = spec.Wire.join(dctx, senderConn{conn}, spec.Room)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("sender %d: %w", spec.Index, err)
	}
	window := make(chan struct{}, max(spec.Window, 1))
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var buf bytes.Buffer
		for {
			_, r, err := conn.Reader(context.Background())
			if err == nil {
				buf.Reset()
				_, err = buf.ReadFrom(r)
			}
			if err != nil {
				return
			}
			reply := spec.Wire.split(buf.Bytes(), func(msg []byte) {
				if acknowledged(spec, l, msg) {
					select {
					case <-window:
					default:
					}
				}
			})
			if reply != nil {
				wctx, cancel := context.WithTimeout(ctx, writeTimeout)
				conn.Write(wctx, websocket.MessageText, reply)
				cancel()
			}
		}
	}()
	p := newPacer(spec.Rate)
	seq := 0
	var writeErr error
loop:
	for (spec.Count == 0 || seq < spec.Count) && p.wait(ctx, stop) {
		select {
		case window <- struct{}{}:
		case <-stop:
			break loop
		case <-ctx.Done():
			break loop
		case <-readerDone:
			writeErr = fmt.Errorf("sender %d: connection closed by the server", spec.Index)
			break loop
		}
		text := messageText(time.Now().UnixNano(), spec.Index, seq, spec.Size)
		frame := spec.Wire.sendFrame(spec.Room, text, spec.Index, seq)
		seq++
		wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
		err := conn.Write(wctx, websocket.MessageText, frame)
		wcancel()
		l.sent.Add(1)
		if err != nil {
			l.fail(err.Error())
			writeErr = fmt.Errorf("sender %d: %w", spec.Index, err)
			break
		}
	}
	// Wait for the pushes of the sends still in flight.
	deadline := time.Now().Add(drain)
	for len(window) > 0 && time.Now().Before(deadline) {
		select {
		case <-readerDone:
			deadline = time.Now()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if n := len(window); n > 0 {
		l.failed.Add(int64(n))
	}
	conn.CloseNow()
	<-readerDone
	return writeErr
}

// acknowledged records msg, a message a sender received, in the ledger if
// it is the sender's own push (an acknowledgement) or an error, and says
// whether it was either: one send fewer in flight.
func acknowledged(spec senderSpec, l *ledger, msg []byte) bool {
	id, text, ok := parseFrame(msg)
	if !ok {
		if bytes.Contains(msg, []byte(`"error"`)) {
			l.fail("error frame: " + string(msg))
			return true
		}
		return false
	}
	bt, ok := parseText(text)
	if !ok || bt.sender != spec.Index {
		return false
	}
	l.ack(spec.Index, spec.Room, id, bt.sentNanos)
	return true
}

// runRESTSender sends with PUT /chat from Window goroutines until stop.
func runRESTSender(ctx context.Context, spec senderSpec, l *ledger, stop <-chan struct{}) error {
	var (
		mu  sync.Mutex
		p   = newPacer(spec.Rate)
		seq int
		wg  sync.WaitGroup
	)
	next := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if spec.Count > 0 && seq >= spec.Count || !p.wait(ctx, stop) {
			return 0, false
		}
		seq++
		return seq - 1, true
	}
	user := "s" + strconv.Itoa(spec.Index)
	for w := 0; w < max(spec.Window, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, ok := next()
				if !ok {
					return
				}
				sent := time.Now().UnixNano()
				body, _ := json.Marshal(protocol.PutRequest{
					RoomID: protocol.FlexString(spec.Room), UserID: protocol.FlexString(user), Name: "bench",
					Text: messageText(sent, spec.Index, n, spec.Size),
				})
				l.sent.Add(1)
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				req, _ := http.NewRequestWithContext(rctx, http.MethodPut, spec.URL+"/chat", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := spec.Client.Do(req)
				if err != nil {
					cancel()
					l.fail(err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				var a protocol.PutResponse
				if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &a) != nil || a.Message == nil || a.Message.ID == "" {
					l.fail(fmt.Sprintf("PUT /chat %d: %.200s", resp.StatusCode, b))
					continue
				}
				l.ack(spec.Index, spec.Room, []byte(a.Message.ID), sent)
			}
		}()
	}
	wg.Wait()
	return nil
}
