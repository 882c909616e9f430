// Errors on the wire: the HTTP status of each code, and the error body.

package protocol

import (
	"net/http"

	"github.com/chatapp-dev/chatapp"
)

// statusOf maps an error code to its HTTP status.
var statusOf = map[string]int{
	chatapp.EINVALID:      http.StatusBadRequest,
	chatapp.EUNAUTHORIZED: http.StatusUnauthorized,
	chatapp.EFORBIDDEN:    http.StatusForbidden,
	chatapp.ENOTFOUND:     http.StatusNotFound,
	chatapp.ENOTALLOWED:   http.StatusMethodNotAllowed,
	chatapp.ECONFLICT:     http.StatusConflict,
	chatapp.EGONE:         http.StatusGone,
	chatapp.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	chatapp.ERATELIMIT:    http.StatusTooManyRequests,
	chatapp.EINTERNAL:     http.StatusInternalServerError,
	chatapp.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// codeOf maps an HTTP status back to its error code: statusOf inverted.
var codeOf = func() map[int]string {
	m := make(map[int]string, len(statusOf))
	for code, status := range statusOf {
		m[status] = code
	}
	return m
}()

// status returns the HTTP status of an error code (500 for one it does
// not know).
func status(code string) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// ErrorStatus returns the HTTP status for err.
func ErrorStatus(err error) int { return status(chatapp.ErrorCode(err)) }

// ErrorCodeOf returns the code of an HTTP error status, for a client reading
// an answer that has no JSON error body (a proxy's page, API Gateway's own
// {"message":"Forbidden"}): EINVALID for another 4xx, EINTERNAL otherwise.
func ErrorCodeOf(status int) string {
	switch code, ok := codeOf[status]; {
	case ok:
		return code
	case status >= 400 && status < 500:
		return chatapp.EINVALID
	}
	return chatapp.EINTERNAL
}

// ErrorBody is the JSON body of every error a client sees, REST answer or
// WebSocket frame: {"error":{"code":"invalid","message":"room_id is
// required"}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// EncodeError returns the JSON error body for err: its code and, for an
// internal error, a generic message (the details stay in the logs).
func EncodeError(err error) []byte {
	var body ErrorBody
	body.Error.Code = chatapp.ErrorCode(err)
	body.Error.Message = chatapp.ErrorMessage(err)
	b, _ := chatapp.MarshalJSON(body) // two strings: cannot fail
	return b
}
