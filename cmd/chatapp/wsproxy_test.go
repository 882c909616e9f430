// wsProxy: a TCP proxy between clients and a server, for tests that
// restart the server under its clients, lose one direction of their
// WebSockets, or move them to another node of a cluster as a load
// balancer does.

package main

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// loss is a direction of a WebSocket whose bytes the proxy drops.
type loss int

const (
	lossUp   loss = iota // client to server
	lossDown             // server to client
)

// wsProxy forwards every connection to its target, which may change
// (retarget) while it runs: the server may restart on another port, or
// die and leave its clients to another node; while held (hold), new
// connections wait for a target. While a loss is set, the bytes of its direction on WebSocket connections (those
// whose first request asks for an upgrade) are read and dropped, as a
// network that lost them would, until cut ends every connection and the
// loss.
type wsProxy struct {
	URL  string
	ln   net.Listener
	lost [2]atomic.Bool
	// dropped counts the bytes dropped in each direction.
	dropped [2]atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	target string        // host:port
	held   chan struct{} // while held: closed by retarget
	closed chan struct{} // closed when the test ends: held connections give up
	wg     sync.WaitGroup
}

func newWSProxy(t *testing.T, target string) *wsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wsProxy{URL: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	p.retarget(target)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		close(p.closed)
		p.cut()
		p.wg.Wait()
	})
	return p
}

// retarget sends new connections, and those held, to the server at base
// (http://host:port).
func (p *wsProxy) retarget(base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = strings.TrimPrefix(base, "http://")
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
}

// hold makes new connections wait, accepted, until retarget names a
// server: a balancer whose server died holding its clients until it has
// another. (A refusal would fail a send the client retries meanwhile,
// after a few tries, which is the client's right, not what a test of the
// cluster is after.)
func (p *wsProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// waitTarget returns the server to forward a new connection to, once
// no hold is in the way; false if the test ended first.
func (p *wsProxy) waitTarget() (string, bool) {
	for {
		p.mu.Lock()
		target, held := p.target, p.held
		p.mu.Unlock()
		if held == nil {
			return target, true
		}
		select {
		case <-held:
		case <-p.closed:
			return "", false
		}
	}
}

// lose starts dropping the bytes of direction d on WebSocket connections.
func (p *wsProxy) lose(d loss) { p.lost[d].Store(true) }

// waitLost waits until at least n bytes of direction d have been dropped.
func (p *wsProxy) waitLost(t *testing.T, d loss, n int) {
	t.Helper()
	eventually(t, "the proxy dropping a frame", func() bool { return p.dropped[d].Load() >= int64(n) })
}

// cut closes every connection, as a network that failed would, and ends
// the losses: new connections pass.
func (p *wsProxy) cut() {
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.lost[lossUp].Store(false)
	p.lost[lossDown].Store(false)
	p.dropped[lossUp].Store(0)
	p.dropped[lossDown].Store(0)
	p.mu.Unlock()
}

func (p *wsProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track records the connections for cut, until untrack.
func (p *wsProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *wsProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *wsProxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	// Tracked while held too: cut ends a held connection as well.
	p.track(client)
	defer p.untrack(client)
	target, ok := p.waitTarget()
	if !ok {
		return
	}
	server, err := net.Dial("tcp", target)
	if err != nil {
		return // the server is down: as a refused connection
	}
	p.track(server)
	defer p.untrack(server)
	defer server.Close()
	// The first bytes tell a WebSocket handshake from a REST request.
	first := make([]byte, 4096)
	n, err := client.Read(first)
	if err != nil {
		return
	}
	ws := bytes.Contains(bytes.ToLower(first[:n]), []byte("upgrade: websocket"))
	if _, err := server.Write(first[:n]); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.copy(server, client, ws, lossUp); done <- struct{}{} }()
	go func() { p.copy(client, server, ws, lossDown); done <- struct{}{} }()
	<-done
}

// copy forwards src to dst, dropping what it reads while d is lost on a
// WebSocket. It closes both ends when src ends.
func (p *wsProxy) copy(dst, src net.Conn, ws bool, d loss) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if ws && p.lost[d].Load() {
				p.dropped[d].Add(int64(n))
			} else if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
