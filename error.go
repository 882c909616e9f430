package chatapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one HTTP status (package protocol); clients
// see the code and message, never an internal error's text.
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
