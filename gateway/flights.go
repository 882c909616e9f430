// A connection's frames in flight: each frame's function runs on its own
// goroutine, and the next frame is read once the send before it has its
// place in its room's order (chatapp.Queued), not once it has been
// committed and pushed.

package gateway

import (
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/protocol"
)

// maxFramesInFlight bounds the frames of one connection whose functions
// run at once: the read loop waits for a place past it.
const maxFramesInFlight = 16

// flights are the frames of one connection whose functions run.
type flights struct {
	places chan struct{} // a place per frame in flight
	wg     sync.WaitGroup
}

func newFlights() *flights { return &flights{places: make(chan struct{}, maxFramesInFlight)} }

// flightsOf returns the connection's flights, made on its first frame.
func (g *Gateway) flightsOf(c *hub.Client) *flights {
	if f, ok := g.flights.Load(c.ID()); ok {
		return f.(*flights)
	}
	f, _ := g.flights.LoadOrStore(c.ID(), newFlights())
	return f.(*flights)
}

// invokeInFlight runs a frame's function on a goroutine of its own, and
// returns once the function said its send is placed (chatapp.Queued) or
// returned, whichever comes first: until then no later frame of the
// connection is routed, so its sends are placed in the order they came.
// A function that fails is answered with an error frame, as API Gateway
// answers a failed integration.
func (g *Gateway) invokeInFlight(c *hub.Client, event events.APIGatewayWebsocketProxyRequest) {
	f := g.flightsOf(c)
	f.places <- struct{}{}
	placed := make(chan struct{})
	var once sync.Once
	place := func() { once.Do(func() { close(placed) }) }
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { <-f.places }()
		defer place()
		if _, err := g.invokeWith(chatapp.WithQueuedHook(context.Background(), place), event); err != nil {
			c.Enqueue(protocol.EncodeError(chatapp.Errorf(chatapp.EINTERNAL, "internal server error")))
		}
	}()
	<-placed
}

// landed waits until the connection's frames in flight have run: its
// $disconnect runs after them, as it does after a frame read one at a
// time.
func (g *Gateway) landed(c *hub.Client) {
	if f, ok := g.flights.Load(c.ID()); ok {
		f.(*flights).wg.Wait()
	}
}
