package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
)

// TestErrorWordsHoldNoControls: the footer's words may not carry a
// server's terminal controls. A server can redirect a request to a host
// name of its choosing; the lookup of a name holding C1 controls (U+009B
// is CSI) or bidi overrides fails, and the name came back in the footer
// as is ("unknown host ..."), where before issue 11 the whole status line
// went through cleanText. (Go's resolver refuses such a name without
// asking DNS: the test stays on loopback.)
func TestErrorWordsHoldNoControls(t *testing.T) {
	for _, host := range []string{"a\u009b2Jb.example", "evil\u202egnp.example", "\u009b31mred\u009b0m"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+host+"/chat/users", http.StatusFound)
		}))
		_, err := srv.Client().Get(srv.URL + "/chat/users?room_id=lobby")
		srv.Close()
		if err == nil {
			t.Fatalf("redirect to %q: no error", host)
		}
		w := describeError(err)
		for _, s := range []string{w.Short, w.Long} {
			if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }); i >= 0 {
				t.Errorf("redirect to %q: footer words %q hold control %U", host, s, []rune(s[i:])[0])
			}
		}
	}
}
