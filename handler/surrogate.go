package handler

import (
	"bytes"
	"strings"

	"github.com/chatapp-dev/chatapp"
)

// checkSurrogates refuses a JSON body whose decoded strings hold U+FFFD that
// the body never sent: encoding/json turns an unpaired surrogate escape
// ("\ud800") into U+FFFD, which would store a text other than the one sent.
// A U+FFFD sent as such (raw, or as "\ufffd") is kept.
func checkSurrogates(body []byte, decoded ...string) error {
	for _, s := range decoded {
		if !strings.ContainsRune(s, '\uFFFD') {
			continue
		}
		if bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
			return nil
		}
		return chatapp.Errorf(chatapp.EINVALID, "text holds an unpaired UTF-16 surrogate escape")
	}
	return nil
}
