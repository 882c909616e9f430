package protocol_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// TestErrorCodeOf: every code survives the trip to its HTTP status and back;
// statuses of no code fall to invalid (4xx) or internal.
func TestErrorCodeOf(t *testing.T) {
	for _, code := range []string{chatapp.EINVALID, chatapp.EUNAUTHORIZED, chatapp.EFORBIDDEN, chatapp.ENOTFOUND,
		chatapp.ENOTALLOWED, chatapp.ECONFLICT, chatapp.EGONE, chatapp.ETOOLARGE, chatapp.ERATELIMIT,
		chatapp.EINTERNAL, chatapp.EUNAVAILABLE} {
		status := protocol.ErrorStatus(chatapp.Errorf(code, "x"))
		if got := protocol.ErrorCodeOf(status); got != code {
			t.Errorf("%s → %d → %s", code, status, got)
		}
	}
	for status, want := range map[int]string{418: chatapp.EINVALID, 502: chatapp.EINTERNAL, 504: chatapp.EINTERNAL} {
		if got := protocol.ErrorCodeOf(status); got != want {
			t.Errorf("ErrorCodeOf(%d) = %s, want %s", status, got, want)
		}
	}
}

// TestEncodeErrorNoHTMLEscape: an error body leaves <, > and & as they are
// (json.Marshal would write each as a 6-byte \u003c escape) and stays JSON.
func TestEncodeErrorNoHTMLEscape(t *testing.T) {
	b := protocol.EncodeError(chatapp.Errorf(chatapp.EINVALID, "<a & b>"))
	if want := `{"error":{"code":"invalid","message":"<a & b>"}}`; string(b) != want {
		t.Errorf("EncodeError = %s, want %s", b, want)
	}
}

func TestErrorFunctions(t *testing.T) {
	notFound := chatapp.Errorf(chatapp.ENOTFOUND, "room %s not found", "lobby")
	tests := []struct {
		name    string
		err     error
		code    string
		message string
		status  int
	}{
		{"chatapp error", notFound, chatapp.ENOTFOUND, "room lobby not found", http.StatusNotFound},
		{"wrapped", fmt.Errorf("find room: %w", notFound), chatapp.ENOTFOUND, "room lobby not found", http.StatusNotFound},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", chatapp.Errorf(chatapp.ETOOLARGE, "big"))), chatapp.ETOOLARGE, "big", http.StatusRequestEntityTooLarge},
		{"joined", errors.Join(errors.New("x"), chatapp.Errorf(chatapp.EGONE, "gone")), chatapp.EGONE, "gone", http.StatusGone},
		{"plain error", errors.New("disk on fire at /var/lib/x"), chatapp.EINTERNAL, "internal error", http.StatusInternalServerError},
		{"wrapped plain error", fmt.Errorf("query: %w", errors.New("secret detail")), chatapp.EINTERNAL, "internal error", http.StatusInternalServerError},
		{"unknown code", chatapp.Errorf("weird", "w"), "weird", "w", http.StatusInternalServerError},
		// nil has no code and no message; ErrorStatus is only meant for
		// errors and falls back to 500.
		{"nil", nil, "", "", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chatapp.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := chatapp.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
			if got := protocol.ErrorStatus(tt.err); got != tt.status {
				t.Errorf("ErrorStatus = %d, want %d", got, tt.status)
			}
			b := protocol.EncodeError(tt.err)
			var body map[string]map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("EncodeError = %s: %v", b, err)
			}
			want := map[string]map[string]any{"error": {"code": tt.code, "message": tt.message}}
			if fmt.Sprint(body) != fmt.Sprint(want) || len(body) != 1 || len(body["error"]) != 2 {
				t.Errorf("EncodeError = %s, want %v", b, want)
			}
		})
	}
}

func TestErrorStatusOfEveryCode(t *testing.T) {
	tests := map[string]int{
		chatapp.EINVALID:      400,
		chatapp.EUNAUTHORIZED: 401,
		chatapp.EFORBIDDEN:    403,
		chatapp.ENOTFOUND:     404,
		chatapp.ENOTALLOWED:   405,
		chatapp.ECONFLICT:     409,
		chatapp.EGONE:         410,
		chatapp.ETOOLARGE:     413,
		chatapp.ERATELIMIT:    429,
		chatapp.EINTERNAL:     500,
		chatapp.EUNAVAILABLE:  503,
	}
	for code, status := range tests {
		if got := protocol.ErrorStatus(chatapp.Errorf(code, "m")); got != status {
			t.Errorf("ErrorStatus(%s) = %d, want %d", code, got, status)
		}
	}
}

func TestErrorString(t *testing.T) {
	err := chatapp.Errorf(chatapp.EINVALID, "room_id is %s", "required")
	if got, want := err.Error(), "chatapp: code=invalid message=room_id is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := string(protocol.EncodeError(err)), `{"error":{"code":"invalid","message":"room_id is required"}}`; got != want {
		t.Errorf("EncodeError = %s, want %s", got, want)
	}
}
