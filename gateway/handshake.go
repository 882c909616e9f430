package gateway

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/gobwas/httphead"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// A WebSocket handshake is checked whole before the gateway spends anything
// on it: a request the upgrade would refuse never takes a connection's
// place, never reaches the authorizer, and never runs $connect, whose
// function stores a row and announces a join (and $disconnect a leave) for
// a connection that never opens. API Gateway validates the handshake first
// too.

// refuseBadHandshake answers a request to the WebSocket path that is not a
// valid handshake (RFC 6455 §4.2.1), with the status the upgrade itself
// would give and the JSON error body, and reports whether it did.
func refuseBadHandshake(w http.ResponseWriter, r *http.Request) bool {
	version := r.Header.Get("Sec-WebSocket-Version")
	switch {
	case !isUpgrade(r):
		w.Header().Set("Upgrade", "websocket")
		refuseHandshake(w, http.StatusUpgradeRequired, chatapp.Errorf(chatapp.EINVALID, "expected a WebSocket upgrade"))
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		refuseHandshake(w, http.StatusMethodNotAllowed, chatapp.Errorf(chatapp.ENOTALLOWED, "a WebSocket handshake is a GET"))
	case r.Host == "":
		refuseHandshake(w, http.StatusBadRequest, chatapp.Errorf(chatapp.EINVALID, "a WebSocket handshake needs a Host"))
	case !r.ProtoAtLeast(1, 1):
		refuseHandshake(w, http.StatusHTTPVersionNotSupported, chatapp.Errorf(chatapp.EINVALID, "a WebSocket handshake needs HTTP/1.1"))
	case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
		// Its bytes would be read as the client's first frames.
		refuseHandshake(w, http.StatusBadRequest, chatapp.Errorf(chatapp.EINVALID, "a WebSocket handshake has no body"))
	case !validTokens(r.Header.Values("Sec-WebSocket-Protocol")):
		// The upgrade reads the subprotocols offered as HTTP tokens when
		// $connect names one, and refuses malformed ones.
		refuseHandshake(w, http.StatusBadRequest, chatapp.Errorf(chatapp.EINVALID, "Sec-WebSocket-Protocol is not a list of tokens"))
	case !validKey(r.Header.Values("Sec-WebSocket-Key")):
		refuseHandshake(w, http.StatusBadRequest, chatapp.Errorf(chatapp.EINVALID, "Sec-WebSocket-Key must be the base64 of 16 bytes"))
	case version == "":
		refuseHandshake(w, http.StatusBadRequest, chatapp.Errorf(chatapp.EINVALID, "Sec-WebSocket-Version is missing"))
	case version != "13":
		// RFC 6455 §4.4: name the version the server speaks.
		w.Header().Set("Sec-WebSocket-Version", "13")
		refuseHandshake(w, http.StatusUpgradeRequired, chatapp.Errorf(chatapp.EINVALID, "unsupported Sec-WebSocket-Version: 13 only"))
	default:
		return false
	}
	return true
}

// validTokens reports whether every value is a list of HTTP tokens.
func validTokens(values []string) bool {
	for _, v := range values {
		if !httphead.ScanTokens([]byte(v), func([]byte) bool { return true }) {
			return false
		}
	}
	return true
}

// validKey reports whether a handshake has one Sec-WebSocket-Key, the
// base64 of 16 bytes (24 characters; the upgrade library checks only
// their number).
func validKey(keys []string) bool {
	if len(keys) != 1 || len(keys[0]) != 24 {
		return false
	}
	var nonce [18]byte
	n, err := base64.StdEncoding.Decode(nonce[:], []byte(keys[0]))
	return err == nil && n == 16
}

// refuseHandshake answers a handshake that will not open with status and
// err's JSON body, and closes its connection: the client asked for an
// upgrade, not for a keep-alive connection that would hold a file
// descriptor for another request.
func refuseHandshake(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Connection", "close")
	writeJSON(w, status, protocol.EncodeError(err))
}

// isUpgrade reports whether r asks to upgrade to a WebSocket by the very
// rules of the upgrade (gobwas/ws's HTTPUpgrader): the first Upgrade value
// names websocket, and the first Connection value, read as HTTP tokens
// (httphead), holds "upgrade". A looser check here would admit handshakes
// the upgrade then refuses, after $connect has announced them.
func isUpgrade(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	c := r.Header.Get("Connection")
	found := false
	httphead.ScanTokens([]byte(c), func(token []byte) bool {
		found = bytes.EqualFold(token, []byte("upgrade"))
		return !found
	})
	return c == "Upgrade" || found
}
