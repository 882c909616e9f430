// A connection's timers: its idle timeout and its longest life.

package hub

import (
	"sync"
	"time"
)

// lifetime owns the timers that end a connection: API Gateway's idle
// timeout and maximum connection duration, and the expiry of the token it
// was opened with. Timers, not a goroutine per connection.
type lifetime struct {
	mu           sync.Mutex
	idle, maxAge *time.Timer
	stopped      bool // stop ran: the idle check must not arm its timer again
	// expiresAt is when the connection's token expires (zero without
	// one): Joined records it during $connect, and start ends the
	// connection then. API Gateway checks a token at $connect only;
	// without this a connection would outlive its token by up to the
	// maximum connection duration.
	expiresAt time.Time
}

// expireAt records when the connection's token expires.
func (l *lifetime) expireAt(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expiresAt = t
}

// start closes c at the idle timeout, the maximum duration, or its
// token's expiry if that comes first.
func (l *lifetime) start(c *Client, idle, maxDuration time.Duration) {
	end, why := maxDuration, DisconnectMaxDuration
	l.mu.Lock()
	defer l.mu.Unlock()
	if left := time.Until(l.expiresAt); !l.expiresAt.IsZero() && left < maxDuration {
		end, why = left, DisconnectTokenExpired
	}
	l.maxAge = c.afterFunc(end, func() { c.Close(why) })
	var check func()
	check = func() {
		if left := idle - time.Since(c.lastActiveAt()); left > 0 {
			l.mu.Lock()
			if !l.stopped {
				l.idle.Reset(left)
			}
			l.mu.Unlock()
			return
		}
		c.Close(DisconnectIdle)
	}
	l.idle = c.afterFunc(idle, check)
}

func (l *lifetime) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	if l.maxAge != nil {
		l.maxAge.Stop()
		l.idle.Stop()
	}
}

// afterFunc is time.AfterFunc for the client's timers: a panic of f is
// logged and counted, and closes the connection with 1011, not the
// process.
func (c *Client) afterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() {
		defer func() {
			if v := recover(); v != nil {
				c.hub.panics.Recovered(panicTimer, v)
				c.Close(DisconnectInternal)
			}
		}()
		f()
	})
}
