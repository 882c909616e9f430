package chatapp

import "context"

// A connection's frames are read one at a time by the local gateway, so
// that a client's sends take their places in its room's order in the
// order it sent them. A send need not have been committed and pushed
// before the next frame is read, only placed: the gateway hands each
// invocation a hook, and the send calls it once its message is queued in
// its room's order (handler.send). The next frame is then read while the
// commit and the push go on, and the sends of one connection share a
// group commit and a round of pushes. On AWS, API Gateway invokes each
// frame's function on its own, and there is no hook.

type queuedHookKey struct{}

// WithQueuedHook returns ctx carrying f, which Queued calls.
func WithQueuedHook(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, queuedHookKey{}, f)
}

// Queued says that the send of ctx's invocation has its place in its
// room's order: its caller may go on to the next frame. It calls the hook
// of ctx, if any; the hook must be safe to call more than once.
func Queued(ctx context.Context) {
	if f, ok := ctx.Value(queuedHookKey{}).(func()); ok {
		f()
	}
}
