package chatapp

import "time"

// RateLimiter decides whether one more event under a key (a user, a
// connection) may happen now.
type RateLimiter interface {
	// Allow takes one event from key's budget. When the budget is spent it
	// returns false and how long until the next event would be allowed.
	Allow(key string) (ok bool, retryAfter time.Duration)
}
