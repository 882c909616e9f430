package gateway

import (
	"net/http"

	"github.com/chatapp-dev/chatapp"
)

// The gateway's budgets of request bodies (Config.MaxBufferedBodyBytes,
// budget.Bytes) bound the bytes of the bodies it holds at once. Each
// request's own bounds (its size, its time) leave their number unbounded:
// without them, every connection the listener takes could hold a body
// just short of the limit, its last byte withheld, for the whole body
// timeout, and again after its 408. A request reserves what its body may
// grow to before reading a byte of it and gives it back when it is done;
// what it actually holds follows the bytes that arrive (io.ReadAll grows
// as they come), so the budget bounds memory from above.

// bodyReservation is what a request's body may grow to, read no further
// than max: its Content-Length (one over max is refused before this), or
// max when the length is unknown (chunked); 0 when there is no body.
func bodyReservation(r *http.Request, max int64) int64 {
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		return 0
	case r.ContentLength >= 0:
		return min(r.ContentLength, max)
	default:
		return max
	}
}

// refuseBodyBudget answers a REST request whose body found no room in the
// budget: the gateway's own answer (API Gateway buffers bodies without
// such a bound, and has no gateway response for it), as refuseThrottled's
// is, 503 unavailable with Retry-After. The connection is closed after the
// answer: net/http would otherwise read up to 256 KB of the unread body
// before sending it, and a client that drips its body would hold the
// answer back.
func refuseBodyBudget(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "1")
	writeError(w, chatapp.Errorf(chatapp.EUNAVAILABLE, "too many request bodies in progress: retry shortly"))
}
