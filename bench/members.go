package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"
)

// ConnectSpec asks a group to open members Start..Start+Count-1. Member i
// joins room Rooms[i%len(Rooms)] as user "<UserPrefix><i>" on server
// URLs[nodeOf(i, len(Rooms), len(URLs))] and dials from
// SourceAddrs[i%len(SourceAddrs)].
type ConnectSpec struct {
	URLs        []string `json:"urls"` // http://host:port of each server
	Rooms       []string `json:"rooms"`
	Start       int      `json:"start"`
	Count       int      `json:"count"`
	UserPrefix  string   `json:"user_prefix"`
	Protocol    string   `json:"protocol,omitempty"` // the server's: ProtocolChatapp ("") or ProtocolCentrifugo
	SourceAddrs []string `json:"source_addrs,omitempty"`
	Concurrency int      `json:"concurrency"`
	// Timeout bounds the whole connect phase.
	Timeout time.Duration `json:"timeout"`
}

// ConnectResult says how a connect phase went.
type ConnectResult struct {
	OK      int           `json:"ok"`
	Failed  int           `json:"failed"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Errors  []string      `json:"errors,omitempty"` // the first distinct ones
	// Handshake is the distribution of one dial+handshake, in µs.
	Handshake *hdrhistogram.Snapshot `json:"handshake,omitempty"`
}

// Expect is what every member of a room should have received: the number
// of acknowledged messages and the XOR of their id hashes.
type Expect struct {
	Count int64  `json:"count"`
	XOR   uint64 `json:"xor"`
}

// CheckResult compares the members' receipts with what was acknowledged.
type CheckResult struct {
	Members    int   `json:"members"`
	Complete   int   `json:"complete"`   // got exactly the acknowledged set
	Behind     int   `json:"behind"`     // fewer than acknowledged so far
	Mismatched int   `json:"mismatched"` // as many or more, but another set
	Deliveries int64 `json:"deliveries"`
	Missing    int64 `json:"missing"` // sum over members of acknowledged - received, when positive
	Extra      int64 `json:"extra"`   // received beyond the acknowledged (sends whose answer was lost)
	Duplicates int64 `json:"duplicates"`
	Dropped    int   `json:"dropped"` // connections that ended before the benchmark closed them
	Foreign    int64 `json:"foreign"` // frames that were not benchmark messages
	// DropReasons counts why connections ended early.
	DropReasons map[string]int `json:"drop_reasons,omitempty"`
}

func (c *CheckResult) add(o CheckResult) {
	c.Members += o.Members
	c.Complete += o.Complete
	c.Behind += o.Behind
	c.Mismatched += o.Mismatched
	c.Deliveries += o.Deliveries
	c.Missing += o.Missing
	c.Extra += o.Extra
	c.Duplicates += o.Duplicates
	c.Dropped += o.Dropped
	c.Foreign += o.Foreign
	for k, v := range o.DropReasons {
		if c.DropReasons == nil {
			c.DropReasons = map[string]int{}
		}
		c.DropReasons[k] += v
	}
}

// GroupReport is a group's latency histogram and process usage.
type GroupReport struct {
	Latency     *hdrhistogram.Snapshot `json:"latency"`
	Deliveries  int64                  `json:"deliveries"`
	FirstRecvNs int64                  `json:"first_recv_ns"`
	LastRecvNs  int64                  `json:"last_recv_ns"`
	Proc        ProcSample             `json:"proc"`
}

// group is a set of member connections: in this process (localGroup) or in
// a worker process (remoteGroup).
type group interface {
	Connect(ctx context.Context, spec ConnectSpec) (ConnectResult, error)
	Check(ctx context.Context, expect map[string]Expect) (CheckResult, error)
	Report(ctx context.Context) (GroupReport, error)
	Close() error
}

// member is one receiving connection.
type member struct {
	index int
	room  string
	conn  *memberConn

	mu         sync.Mutex
	count      int64
	xor        uint64
	duplicates int64
	foreign    int64
	seen       map[int][]uint64 // sender → bitset of sequence numbers

	ended     atomic.Bool // the read loop returned
	closing   atomic.Bool // the benchmark closed it
	endReason string      // set before ended
}

// markSeen records a sequence number and reports whether it is new.
func (m *member) markSeen(sender, seq int) bool {
	if m.seen == nil {
		m.seen = map[int][]uint64{}
	}
	bits := m.seen[sender]
	w := seq / 64
	if w >= len(bits) {
		if w > 1<<20 { // 64 M sequence numbers: beyond any run
			return true
		}
		grown := make([]uint64, w+1+len(bits))
		copy(grown, bits)
		bits = grown
		m.seen[sender] = bits
	}
	if bits[w]&(1<<(seq%64)) != 0 {
		return false
	}
	bits[w] |= 1 << (seq % 64)
	return true
}

// localGroup holds members in this process.
type localGroup struct {
	hist       *shardedHist
	deliveries atomic.Int64
	firstRecv  atomic.Int64
	lastRecv   atomic.Int64

	mu      sync.Mutex
	members []*member
	wg      sync.WaitGroup
}

func newLocalGroup() *localGroup {
	return &localGroup{hist: newShardedHist()}
}

// wsBase turns http://host:port into ws://host:port (https into wss).
func wsBase(base string) string {
	if strings.HasPrefix(base, "https") {
		return "wss" + base[len("https"):]
	}
	return "ws" + base[len("http"):]
}

// wsURL turns http://host:port into ws://host:port/ws?room_id=R&user_id=U&.
func wsURL(base, room, user string) string {
	return wsBase(base) + "/ws?room_id=" + url.QueryEscape(room) + "&user_id=" + url.QueryEscape(user) + "&"
}

// dial opens one WebSocket to url.
func dial(ctx context.Context, client *http.Client, url string) (*websocket.Conn, error) {
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      client,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("handshake %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

func (g *localGroup) Connect(ctx context.Context, spec ConnectSpec) (ConnectResult, error) {
	if len(spec.Rooms) == 0 || len(spec.URLs) == 0 {
		return ConnectResult{}, errors.New("no rooms or no servers")
	}
	proto, err := wireOf(spec.Protocol)
	if err != nil {
		return ConnectResult{}, err
	}
	if spec.Concurrency <= 0 {
		spec.Concurrency = 64
	}
	if spec.Timeout <= 0 {
		spec.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	var (
		res       ConnectResult
		resMu     sync.Mutex
		errSeen   = map[string]bool{}
		handshake = newHist()
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	next.Store(int64(spec.Start))
	end := int64(spec.Start + spec.Count)
	start := time.Now()
	for w := 0; w < spec.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if int64(i) >= end || ctx.Err() != nil {
					return
				}
				room := spec.Rooms[i%len(spec.Rooms)]
				source := ""
				if len(spec.SourceAddrs) > 0 {
					source = spec.SourceAddrs[i%len(spec.SourceAddrs)]
				}
				t0 := time.Now()
				dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
				server := spec.URLs[nodeOf(i, len(spec.Rooms), len(spec.URLs))]
				conn, err := dialMember(dctx, source, proto.url(server, room, spec.UserPrefix+strconv.Itoa(i)))
				if err == nil {
					if err = proto.join(dctx, conn, room); err != nil {
						conn.Close()
					}
				}
				dcancel()
				took := time.Since(t0)
				resMu.Lock()
				if err != nil {
					res.Failed++
					msg := err.Error()
					if len(res.Errors) < 5 && !errSeen[msg] {
						errSeen[msg] = true
						res.Errors = append(res.Errors, msg)
					}
					resMu.Unlock()
					continue
				}
				res.OK++
				handshake.RecordValue(max(took.Microseconds(), 1))
				resMu.Unlock()
				m := &member{index: i, room: room, conn: conn}
				g.mu.Lock()
				g.members = append(g.members, m)
				g.mu.Unlock()
				g.wg.Add(1)
				go g.read(m, proto)
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if n := int(end) - spec.Start - res.OK - res.Failed; n > 0 {
		res.Failed += n // not attempted before the timeout
		res.Errors = append(res.Errors, fmt.Sprintf("%d not attempted: %v", n, ctx.Err()))
	}
	res.Handshake = handshake.Export()
	return res, nil
}

// read receives a member's frames until its connection ends.
func (g *localGroup) read(m *member, w wire) {
	defer g.wg.Done()
	for {
		frame, err := m.conn.next()
		if err != nil {
			reason := "read: " + err.Error()
			var ce errClosed
			if errors.As(err, &ce) {
				reason = ce.Error()
			} else if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				reason = "connection lost"
			}
			m.mu.Lock()
			m.endReason = reason
			m.mu.Unlock()
			m.ended.Store(true)
			return
		}
		now := time.Now().UnixNano()
		reply := w.split(frame, func(msg []byte) { g.receive(m, msg, now) })
		if reply != nil {
			m.conn.write(context.Background(), reply)
		}
	}
}

// receive counts one message a member received at now.
func (g *localGroup) receive(m *member, msg []byte, now int64) {
	id, text, ok := parseFrame(msg)
	var bt benchText
	if ok {
		bt, ok = parseText(text)
	}
	m.mu.Lock()
	if !ok {
		m.foreign++
		m.mu.Unlock()
		return
	}
	fresh := m.markSeen(bt.sender, bt.seq)
	if fresh {
		m.count++
		m.xor ^= idHash(id)
	} else {
		m.duplicates++
	}
	m.mu.Unlock()
	if fresh {
		g.deliveries.Add(1)
		g.firstRecv.CompareAndSwap(0, now)
		g.lastRecv.Store(now)
		g.hist.record(m.index, (now-bt.sentNanos)/1000)
	}
}

func (g *localGroup) Check(_ context.Context, expect map[string]Expect) (CheckResult, error) {
	g.mu.Lock()
	members := append([]*member(nil), g.members...)
	g.mu.Unlock()
	var c CheckResult
	for _, m := range members {
		c.Members++
		if m.ended.Load() && !m.closing.Load() {
			c.Dropped++
			m.mu.Lock()
			reason := m.endReason
			m.mu.Unlock()
			if c.DropReasons == nil {
				c.DropReasons = map[string]int{}
			}
			if len(c.DropReasons) < 10 || c.DropReasons[reason] > 0 {
				c.DropReasons[reason]++
			}
		}
		e := expect[m.room]
		m.mu.Lock()
		count, xor := m.count, m.xor
		c.Duplicates += m.duplicates
		c.Foreign += m.foreign
		m.mu.Unlock()
		c.Deliveries += count
		switch {
		case count == e.Count && xor == e.XOR:
			c.Complete++
		case count < e.Count:
			c.Behind++
			c.Missing += e.Count - count
		default:
			c.Mismatched++
			c.Extra += count - e.Count
		}
	}
	return c, nil
}

func (g *localGroup) Report(context.Context) (GroupReport, error) {
	proc, _ := ReadProc(0)
	return GroupReport{
		Latency:     g.hist.merged().Export(),
		Deliveries:  g.deliveries.Load(),
		FirstRecvNs: g.firstRecv.Load(),
		LastRecvNs:  g.lastRecv.Load(),
		Proc:        proc,
	}, nil
}

// Close closes every member (a close frame, without waiting for the
// server's answer for more than a moment) and waits for their readers.
func (g *localGroup) Close() error {
	g.mu.Lock()
	members := g.members
	g.members = nil
	g.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, m := range members {
		m.closing.Store(true)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Close waits up to 5 s for the server's close frame; CloseNow
			// is enough to end the benchmark quickly.
			m.conn.Close()
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return errors.New("member readers did not stop within 10s")
	}
	return nil
}
