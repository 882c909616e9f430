package hub

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDisconnectPolicyReason: a reason is cut to what a close frame holds,
// never inside a character, so the close frame and $disconnect get the
// same valid UTF-8.
func TestDisconnectPolicyReason(t *testing.T) {
	for _, reason := range []string{"token expired", strings.Repeat("é", 100), strings.Repeat("x", 122) + "€", strings.Repeat("😀", 40)} {
		got := DisconnectPolicy(reason).Reason
		if len(got) > maxCloseReason || !utf8.ValidString(got) || !strings.HasPrefix(reason, got) {
			t.Errorf("DisconnectPolicy(%d bytes).Reason = %d bytes %q", len(reason), len(got), got)
		}
		if len(reason) <= maxCloseReason && got != reason {
			t.Errorf("a reason that fits was changed: %q", got)
		}
		if len(reason) > maxCloseReason && len(got) < maxCloseReason-3 {
			t.Errorf("a long reason was cut to %d bytes, more than a character short", len(got))
		}
	}
}
