package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// serveManagement is the Management API over HTTP, for functions that run
// out of process: POST (PostToConnection), GET (GetConnection) and DELETE
// (DeleteConnection) on /@connections/{id}. It answers loopback callers
// only, and only requests signed (Signature Version 4, as on AWS) with the
// gateway's management credentials: any local process can reach loopback.
func (g *Gateway) serveManagement(w http.ResponseWriter, r *http.Request) {
	if !fromLoopback(r) {
		writeError(w, chatapp.Errorf(chatapp.EFORBIDDEN, "the management API answers loopback callers only"))
		return
	}
	if r.ContentLength > MaxPayloadBytes {
		// Refused on its word, before a byte of it is read.
		w.Header().Set("Connection", "close")
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload larger than 128 KB")
		return
	}
	// The signature covers the body's hash, so the body is read first: its
	// bytes are reserved before, as a REST body's are (bodybudget.go).
	reserved := bodyReservation(r, MaxPayloadBytes)
	if !g.managementBodies.Reserve(reserved) {
		// Throttled as AWS throttles this API: LimitExceededException, 429,
		// which the SDK retries. The connection is closed after the answer
		// (refuseBodyBudget says why).
		w.Header().Set("Connection", "close")
		writeAWSError(w, http.StatusTooManyRequests, "LimitExceededException", "too many requests in progress")
		return
	}
	defer g.managementBodies.Release(reserved)
	g.startBodyDeadline(http.NewResponseController(w), r)
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayloadBytes))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		writeAWSError(w, http.StatusRequestTimeout, "RequestTimeoutException", "the request body did not arrive in time")
		return
	}
	if err != nil {
		writeAWSError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload larger than 128 KB")
		return
	}
	if refused := verifySignature(r, data, g.cfg.ManagementCredentials, time.Now()); refused != nil {
		g.cfg.Logger.Warn("management API request refused", "method", r.Method, "path", r.URL.EscapedPath(), "reason", refused.message)
		writeAWSError(w, http.StatusForbidden, refused.errType, refused.message)
		return
	}
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodPost:
		if err := g.cfg.Connections.Post(r.Context(), id, data); err != nil {
			writeConnectionError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		info, err := g.cfg.Connections.GetConnection(r.Context(), id)
		if err != nil {
			writeConnectionError(w, err)
			return
		}
		body, _ := json.Marshal(connectionInfoJSON{
			ConnectedAt:  info.ConnectedAt.UTC().Format(time.RFC3339Nano),
			LastActiveAt: info.LastActiveAt.UTC().Format(time.RFC3339Nano),
			Identity:     identityJSON{SourceIP: info.SourceIP, UserAgent: info.UserAgent},
		})
		writeJSON(w, http.StatusOK, body)
	case http.MethodDelete:
		if err := g.cfg.Connections.DeleteConnection(r.Context(), id); err != nil {
			writeConnectionError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", strings.Join(managementMethods, ", "))
		writeAWSError(w, http.StatusMethodNotAllowed, "MethodNotAllowedException", "method not allowed")
	}
}

// connectionInfoJSON is GetConnection's output shape on AWS.
type connectionInfoJSON struct {
	ConnectedAt  string       `json:"ConnectedAt"`
	Identity     identityJSON `json:"Identity"`
	LastActiveAt string       `json:"LastActiveAt"`
}

type identityJSON struct {
	SourceIP  string `json:"SourceIp"`
	UserAgent string `json:"UserAgent"`
}

// writeConnectionError answers a request the connections refused (a post,
// get or delete). Only a connection that is gone, or whose node is, is 410
// GoneException: a notifier deletes the row of a connection on that
// answer; a node it could not reach (the broker down) is 500, which the
// SDK retries. A done context is the caller's own end (it hung up, or its
// deadline passed), which says nothing of the connection: 499, the status of a request its client closed (nginx's; no
// client reads it), or 504 for a deadline.
func writeConnectionError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, context.Canceled):
		writeAWSError(w, statusClientClosedRequest, "ClientClosedRequestException", "the caller closed the request")
	case errors.Is(err, context.DeadlineExceeded):
		writeAWSError(w, http.StatusGatewayTimeout, "RequestTimeoutException", "the request's deadline passed")
	case chatapp.ErrorCode(err) == chatapp.EGONE:
		writeGone(w)
	default:
		writeAWSError(w, http.StatusInternalServerError, "InternalServerErrorException", "internal server error")
	}
}

// statusClientClosedRequest is nginx's 499: the client closed its request
// before the answer.
const statusClientClosedRequest = 499

// writeGone answers as AWS does for a connection that is gone, so that the
// SDK's apigatewaymanagementapi client returns a *types.GoneException.
func writeGone(w http.ResponseWriter) {
	writeAWSError(w, http.StatusGone, "GoneException", "connection is gone")
}

func writeAWSError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("X-Amzn-ErrorType", errType)
	body, _ := json.Marshal(map[string]string{"message": message})
	writeJSON(w, status, body)
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
