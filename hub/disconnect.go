// Why a connection ends: its close code and reason, as values.

package hub

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Disconnect is why a connection ends: the close code and reason its close
// frame carries and $disconnect is told, and whether the connection is
// dropped without a close handshake (Abort: the client is not reading, or
// nobody is left to read). Every way a connection ends is one of these.
// Reason is at most 123 bytes of UTF-8, what a close frame holds.
type Disconnect struct {
	Code   ws.StatusCode
	Reason string
	Abort  bool
}

// The ways the hub and its owner end a connection.
var (
	// DisconnectNormal is the Management API's DeleteConnection: 1000.
	DisconnectNormal = Disconnect{Code: ws.StatusNormalClosure}
	// DisconnectShutdown closes every connection when the server stops,
	// as API Gateway does on a deployment.
	DisconnectShutdown = Disconnect{Code: ws.StatusGoingAway, Reason: "server shutting down"}
	// DisconnectIdle and DisconnectMaxDuration are API Gateway's idle
	// timeout and maximum connection duration.
	DisconnectIdle        = Disconnect{Code: ws.StatusGoingAway, Reason: "idle timeout"}
	DisconnectMaxDuration = Disconnect{Code: ws.StatusGoingAway, Reason: "maximum connection duration reached"}
	// DisconnectTokenExpired ends a connection when the token it was opened
	// with expires.
	DisconnectTokenExpired = Disconnect{Code: ws.StatusPolicyViolation, Reason: "token expired"}
	// DisconnectFlood ends a client whose refused frames outran its frame
	// rate (throttle.go).
	DisconnectFlood = Disconnect{Code: ws.StatusPolicyViolation, Reason: "rate limit exceeded"}
	// DisconnectSlowMessage ends a client whose message did not arrive
	// within its time (slowmessage.go).
	DisconnectSlowMessage = Disconnect{Code: ws.StatusPolicyViolation, Reason: "message not completed in time"}
	// DisconnectBinary: API Gateway takes no binary frame.
	DisconnectBinary = Disconnect{Code: ws.StatusUnsupportedData, Reason: "binary frames are not supported"}
	// DisconnectProtocol ends a client that broke RFC 6455.
	DisconnectProtocol = Disconnect{Code: ws.StatusProtocolError, Reason: "protocol error"}
	// DisconnectInternal ends a connection whose goroutine panicked.
	DisconnectInternal = Disconnect{Code: ws.StatusInternalServerError, Reason: "internal server error"}
	// DisconnectSlowConsumer drops a client whose send queue overflowed:
	// it is not reading, so a close handshake would only wait on it.
	DisconnectSlowConsumer = Disconnect{Code: ws.StatusPolicyViolation, Reason: "send queue overflow: client too slow", Abort: true}
	// DisconnectWriteFailed drops a connection a write to failed.
	DisconnectWriteFailed = Disconnect{Code: ws.StatusGoingAway, Reason: "write failed", Abort: true}
	// DisconnectLost is a connection that ended without a close frame.
	DisconnectLost = Disconnect{Code: ws.StatusAbnormalClosure, Reason: "connection lost", Abort: true}
)

// DisconnectPolicy is a close by the functions (chatapp.Notifier's
// Disconnect): 1008 with their reason, cut to what a close frame holds.
func DisconnectPolicy(reason string) Disconnect {
	return Disconnect{Code: ws.StatusPolicyViolation, Reason: closeReason(reason)}
}

// maxCloseReason is the most a close frame's reason may hold: a control
// frame's 125 bytes less the code's 2.
const maxCloseReason = 123

// closeReason cuts reason to maxCloseReason bytes on a character's
// boundary, so that the close frame and $disconnect get the same valid
// UTF-8 (ws.NewCloseFrameBody would cut it anywhere).
func closeReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// disconnectTooBig is a frame or message over its limit: 1009, as API
// Gateway closes.
func disconnectTooBig(err error) Disconnect {
	return Disconnect{Code: ws.StatusMessageTooBig, Reason: err.Error()}
}
