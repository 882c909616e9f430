package chatapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes. Each maps to one HTTP status in the handlers; clients see the
// code and message, never an internal error's text.
const (
	EINVALID      = "invalid"            // 400
	EUNAUTHORIZED = "unauthorized"       // 401
	EFORBIDDEN    = "forbidden"          // 403
	ENOTFOUND     = "not_found"          // 404
	ENOTALLOWED   = "method_not_allowed" // 405
	ECONFLICT     = "conflict"           // 409
	EGONE         = "gone"               // 410
	ETOOLARGE     = "too_large"          // 413
	ERATELIMIT    = "rate_limited"       // 429
	EINTERNAL     = "internal"           // 500
	EUNAVAILABLE  = "unavailable"        // 503
)

// ErrDuplicate is returned by MessageStore.CreateMessage for a message whose
// idempotency key was already used in its room by its user; the message
// passed in is then filled with the stored one.
var ErrDuplicate = errors.New("chatapp: duplicate send")

// Error is an error a client may see: a code and a human message.
type Error struct {
	Code    string
	Message string
	// RetryAfter, on a rate_limited error, is how long until a retry may
	// succeed; REST answers carry it as the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("chatapp: code=%s message=%s", e.Code, e.Message) }

// Errorf returns an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for an error that is not an
// *Error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of err; internal errors get a generic
// message so that their details stay in the logs.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	}
	return "internal error"
}

// statusOf maps an error code to its HTTP status.
var statusOf = map[string]int{
	EINVALID:      http.StatusBadRequest,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ENOTFOUND:     http.StatusNotFound,
	ENOTALLOWED:   http.StatusMethodNotAllowed,
	ECONFLICT:     http.StatusConflict,
	EGONE:         http.StatusGone,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ERATELIMIT:    http.StatusTooManyRequests,
	EINTERNAL:     http.StatusInternalServerError,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// codeOf maps an HTTP status back to its error code: statusOf inverted.
var codeOf = func() map[int]string {
	m := make(map[int]string, len(statusOf))
	for code, status := range statusOf {
		m[status] = code
	}
	return m
}()

// ErrorCodeOf returns the code of an HTTP error status, for a client reading
// an answer that has no JSON error body (a proxy's page, API Gateway's own
// {"message":"Forbidden"}): EINVALID for another 4xx, EINTERNAL otherwise.
func ErrorCodeOf(status int) string {
	switch code, ok := codeOf[status]; {
	case ok:
		return code
	case status >= 400 && status < 500:
		return EINVALID
	}
	return EINTERNAL
}

// ErrorStatus returns the HTTP status for err.
func ErrorStatus(err error) int {
	if status, ok := statusOf[ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error a client sees:
// {"error":{"code":"invalid","message":"room_id is required"}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// EncodeError returns the JSON error body for err.
func EncodeError(err error) []byte {
	var body ErrorBody
	body.Error.Code = ErrorCode(err)
	body.Error.Message = ErrorMessage(err)
	b, _ := MarshalJSON(body) // two strings: cannot fail
	return b
}

// MarshalJSON is json.Marshal as every body and frame of the chat is
// written: without HTML escaping. json.Marshal writes each <, > and & as a
// 6-byte \u003c escape, for JSON embedded in HTML, which these never are;
// a message of 16 KiB of "<" grew to 96 KiB. (U+2028 and U+2029 are still
// escaped: encoding/json always does.)
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
