package chatapp

import "context"

// The order of a connection's frames, in the local gateway. It runs a
// connection's frames together: it routes the next frame once the send
// before it has its place in its room's order (Placed), not once it has
// been committed and pushed, so that a client's sends share a group
// commit and a round of pushes, and are stored and pushed in the order it
// sent them. What a function tells its client directly (an error frame)
// must not overtake the frames before it (a push the client waits for):
// the function first waits for them (AwaitEarlierFrames). On AWS, API
// Gateway invokes each frame's function on its own, and there are no
// hooks: both calls return at once.

type frameOrderKey struct{}

// FrameOrder is what the gateway gives a frame's function.
type FrameOrder struct {
	// Placed says that the frame's send has its place in its room's
	// order; it may be called more than once.
	Placed func()
	// AwaitEarlier waits until the functions of the connection's earlier
	// frames have returned, or ctx ends.
	AwaitEarlier func(ctx context.Context) error
}

// WithFrameOrder returns ctx carrying o.
func WithFrameOrder(ctx context.Context, o FrameOrder) context.Context {
	return context.WithValue(ctx, frameOrderKey{}, o)
}

// Placed says that the send of ctx's frame has its place in its room's
// order (its message is queued for commit): the gateway may route the
// connection's next frame.
func Placed(ctx context.Context) {
	if o, ok := ctx.Value(frameOrderKey{}).(FrameOrder); ok && o.Placed != nil {
		o.Placed()
	}
}

// AwaitEarlierFrames waits until the functions of the frames its
// connection sent before ctx's have returned (their pushes are then
// queued on the socket), or ctx ends: a frame's function calls it before
// it answers its client directly, and before it reads what an earlier
// frame stores.
func AwaitEarlierFrames(ctx context.Context) error {
	if o, ok := ctx.Value(frameOrderKey{}).(FrameOrder); ok && o.AwaitEarlier != nil {
		return o.AwaitEarlier(ctx)
	}
	return nil
}
