// A connection's frames in flight: each frame's function runs on its own
// goroutine, and the next frame is routed once the send before it has its
// place in its room's order (chatapp.Placed), not once it has been
// committed and pushed (chatapp.FrameOrder says why).

package gateway

import (
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/protocol"
)

// Bounds of the frames in flight. A connection may always run one frame
// (as when frames ran one at a time); beyond it, at most
// maxFramesInFlight of its own, and maxExtraFramesInFlight of the whole
// gateway's: each holds its body (up to 128 KB) until its function
// returns. Past either bound the connection's next frame waits for the
// frames before it.
const (
	maxFramesInFlight      = 16
	maxExtraFramesInFlight = 1024
)

// flights are the frames of one connection whose functions run. Only the
// connection's read loop routes frames, one at a time, so last needs no
// lock.
type flights struct {
	slots chan struct{} // a slot per frame in flight
	wg    sync.WaitGroup
	// last is closed once the latest frame's function, and those of
	// every frame before it, have returned.
	last chan struct{}
}

func newFlights() *flights {
	done := make(chan struct{})
	close(done)
	return &flights{slots: make(chan struct{}, maxFramesInFlight), last: done}
}

// flightsOf returns the connection's flights, made on its first frame.
func (g *Gateway) flightsOf(c *hub.Client) *flights {
	if f, ok := g.flights.Load(c.ID()); ok {
		return f.(*flights)
	}
	f, _ := g.flights.LoadOrStore(c.ID(), newFlights())
	return f.(*flights)
}

// invokeInFlight runs a frame's function on a goroutine of its own, and
// returns once the function said its send is placed or returned,
// whichever comes first: until then no later frame of the connection is
// routed, so its sends are placed in the order they came. A function that
// fails is answered with an error frame, as API Gateway answers a failed
// integration, after the frames before it.
func (g *Gateway) invokeInFlight(c *hub.Client, event events.APIGatewayWebsocketProxyRequest) {
	f := g.flightsOf(c)
	extra := g.takeExtraSlot(f.last)
	earlier, finished := f.begin()
	placed := make(chan struct{})
	var once sync.Once
	place := func() { once.Do(func() { close(placed) }) }
	awaitEarlier := func(ctx context.Context) error {
		select {
		case <-earlier:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() {
		defer g.end(f, earlier, finished, extra)
		defer place()
		defer g.recoverFrame(c)
		ctx := chatapp.WithFrameOrder(context.Background(), chatapp.FrameOrder{Placed: place, AwaitEarlier: awaitEarlier})
		if _, err := g.invokeWith(ctx, event); err != nil {
			if awaitEarlier(context.Background()) == nil {
				c.Enqueue(protocol.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
			}
		}
	}()
	<-placed
}

// answerInOrder sends the gateway's own answer to a frame (a mock route's
// response, the hub's refusal) once the connection's frames before it have
// ended, as a function's refusal waits for them (AwaitEarlierFrames); and,
// as a refusal does, it holds the read loop meanwhile, so that no later
// frame's send is pushed before the answer.
func (g *Gateway) answerInOrder(c *hub.Client, answer []byte) {
	if f, ok := g.flights.Load(c.ID()); ok {
		<-f.(*flights).last
	}
	c.Enqueue(answer)
}

// begin takes a slot of the connection's (waiting for one) for a frame,
// and links it to the frames before it: earlier is closed once they have
// ended, finished by end, once this one has too.
func (f *flights) begin() (earlier, finished chan struct{}) {
	f.slots <- struct{}{}
	f.wg.Add(1)
	earlier, finished = f.last, make(chan struct{})
	f.last = finished
	return earlier, finished
}

// end ends a frame after the frames before it; till then it keeps its
// slots, so that a connection's goroutines stay bounded.
func (g *Gateway) end(f *flights, earlier, finished chan struct{}, extra bool) {
	<-earlier
	close(finished)
	<-f.slots
	if extra {
		<-g.extraFrames
	}
	f.wg.Done()
}

// takeExtraSlot takes a slot of the gateway's frames in flight beyond one
// a connection, unless the connection's frames before this one have all
// returned (earlier is closed), and reports whether it took one. With
// none free it waits for those frames instead: a connection always keeps
// its one.
func (g *Gateway) takeExtraSlot(earlier chan struct{}) bool {
	select {
	case <-earlier:
		return false
	default:
	}
	select {
	case g.extraFrames <- struct{}{}:
		return true
	case <-earlier:
		return false
	}
}

// recoverFrame ends a panic of a frame's goroutine outside its function
// (callIntegration recovers the function's own): the connection closes
// with 1011, as for a panic of its read loop, and the process goes on.
func (g *Gateway) recoverFrame(c *hub.Client) {
	if v := recover(); v != nil {
		g.panics.Recovered(panicIntegration, v)
		c.Close(hub.DisconnectInternal)
	}
}

// landed waits until the connection's frames in flight have run: its
// $disconnect runs after them, as it does after a frame read one at a
// time.
func (g *Gateway) landed(c *hub.Client) {
	if f, ok := g.flights.Load(c.ID()); ok {
		f.(*flights).wg.Wait()
	}
}
