package handler

import (
	"github.com/chatapp-dev/chatapp"
)

// checkSurrogates refuses a JSON body holding an unpaired UTF-16 surrogate
// escape ("\ud800" not followed by a low surrogate, or a lone "\udc00"):
// encoding/json would turn it into U+FFFD, storing a text other than the
// one sent. The escapes are read from the body itself, in one pass, so that
// a U+FFFD sent as such anywhere in the body changes nothing. The body must
// be JSON that decoded: a backslash is then always an escape in a string.
func checkSurrogates(body []byte) error {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' || i+1 == len(body) {
			continue
		}
		if body[i+1] != 'u' {
			i++ // a two-byte escape: \" \\ \n ...
			continue
		}
		r, _ := hex4(body, i+2) // decoded JSON: four hex digits follow
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if low, ok := escapeAt(body, i+6); !ok || low < 0xDC00 || low > 0xDFFF {
				return errUnpairedSurrogate
			}
			i += 11 // the pair
		case r >= 0xDC00 && r <= 0xDFFF:
			return errUnpairedSurrogate
		default:
			i += 5
		}
	}
	return nil
}

var errUnpairedSurrogate = chatapp.Errorf(chatapp.EINVALID, "text holds an unpaired UTF-16 surrogate escape")

// escapeAt reads a \uXXXX escape at body[i:].
func escapeAt(body []byte, i int) (rune, bool) {
	if i+1 >= len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	return hex4(body, i+2)
}

// hex4 reads four hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
