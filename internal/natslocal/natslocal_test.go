package natslocal

import (
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// TestRestart: a client of the server reaches it again, at the same URL,
// after Restart.
func TestRestart(t *testing.T) {
	s := Start(t)
	reconnected := make(chan struct{}, 1)
	nc, err := natsgo.Connect(s.URL, natsgo.ReconnectWait(50*time.Millisecond), natsgo.MaxReconnects(-1),
		natsgo.ReconnectHandler(func(*natsgo.Conn) { reconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s.Restart(t)
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not reconnect after the restart")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}
