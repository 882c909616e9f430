package gateway

import (
	"time"

	"github.com/gobwas/ws"
)

// expireAt closes the socket with 1008 when the token it was opened with
// expires: API Gateway checks a token at $connect only, so without this a
// socket would outlive its token by up to the maximum connection duration.
// A later call (a second join) replaces the timer.
func (s *socket) expireAt(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.expiry = s.afterFunc(time.Until(t), func() { s.close(ws.StatusPolicyViolation, "token expired") })
}

// stopExpiry drops the expiry timer of a socket that is gone, which would
// otherwise hold it in memory until its token expires.
func (s *socket) stopExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
}
