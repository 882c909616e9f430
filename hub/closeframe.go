// A client's close frame: checked as RFC 6455 asks, and answered.

package hub

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// A close frame's body is checked as RFC 6455 §5.5.1 and §7.4 ask, not
// echoed as it came: a code that no endpoint may send is never sent back.

// noStatusReason is the disconnectReason API Gateway gives $disconnect,
// with the code 1005, when a client's close frame has no body.
const noStatusReason = "Client-side close frame status not set"

// clientClose is how a connection ends on a client's close frame, which
// the server's close frame answers: the client's own code and reason,
// echoed; 1005 for a close frame without a body, answered with an empty
// one (closeFrameBody); 1002 for a 1-byte body or a code no endpoint may
// send; 1007 for a reason that is not UTF-8. $disconnect gets the same.
func clientClose(payload []byte) Disconnect {
	switch {
	case len(payload) == 0:
		return Disconnect{Code: ws.StatusNoStatusRcvd, Reason: noStatusReason}
	case len(payload) == 1:
		return Disconnect{Code: ws.StatusProtocolError, Reason: "close frame of 1 byte"}
	}
	code, reason := ws.StatusCode(binary.BigEndian.Uint16(payload)), payload[2:]
	switch {
	case !sendableCloseCode(code):
		return Disconnect{Code: ws.StatusProtocolError, Reason: "invalid close code"}
	case !utf8.Valid(reason):
		return Disconnect{Code: ws.StatusInvalidFramePayloadData, Reason: "close reason not UTF-8"}
	}
	return Disconnect{Code: code, Reason: string(reason)}
}

// sendableCloseCode reports whether an endpoint may put code in a close
// frame: 1000–1003 and 1007–1014 (RFC 6455 §7.4.1 and IANA's registry,
// where 1012–1014 were added since), and 3000–4999 (registered and
// private). 1004 is reserved; 1005, 1006 and 1015 stand for "no close
// frame" and must never be sent; the rest is unassigned.
func sendableCloseCode(code ws.StatusCode) bool {
	return 1000 <= code && code <= 1003 || 1007 <= code && code <= 1014 || 3000 <= code && code <= 4999
}

// closeFrameBody is the body of the server's close frame for a socket that
// closes with code: empty for a code that must not be sent (1005: the
// client's close frame had no body).
func closeFrameBody(code ws.StatusCode, reason string) []byte {
	if !sendableCloseCode(code) {
		return nil
	}
	return ws.NewCloseFrameBody(code, reason)
}
