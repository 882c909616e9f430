package chatapp_test

import (
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// TestErrorCodeOf: every code survives the trip to its HTTP status and back;
// statuses of no code fall to invalid (4xx) or internal.
func TestErrorCodeOf(t *testing.T) {
	for _, code := range []string{chatapp.EINVALID, chatapp.EUNAUTHORIZED, chatapp.EFORBIDDEN, chatapp.ENOTFOUND,
		chatapp.ENOTALLOWED, chatapp.ECONFLICT, chatapp.EGONE, chatapp.ETOOLARGE, chatapp.ERATELIMIT,
		chatapp.EINTERNAL, chatapp.EUNAVAILABLE} {
		status := chatapp.ErrorStatus(chatapp.Errorf(code, "x"))
		if got := chatapp.ErrorCodeOf(status); got != code {
			t.Errorf("%s → %d → %s", code, status, got)
		}
	}
	for status, want := range map[int]string{418: chatapp.EINVALID, 502: chatapp.EINTERNAL, 504: chatapp.EINTERNAL} {
		if got := chatapp.ErrorCodeOf(status); got != want {
			t.Errorf("ErrorCodeOf(%d) = %s, want %s", status, got, want)
		}
	}
}

// TestEncodeErrorNoHTMLEscape: an error body leaves <, > and & as they are
// (json.Marshal would write each as a 6-byte \u003c escape) and stays JSON.
func TestEncodeErrorNoHTMLEscape(t *testing.T) {
	b := chatapp.EncodeError(chatapp.Errorf(chatapp.EINVALID, "<a & b>"))
	if want := `{"error":{"code":"invalid","message":"<a & b>"}}`; string(b) != want {
		t.Errorf("EncodeError = %s, want %s", b, want)
	}
}
