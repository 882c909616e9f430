// Package httperror turns the plain-text error answers of handlers the
// project does not write (net/http's file server and NotFound, pprof,
// promhttp) into the project's JSON error, so that every error a client
// meets has one shape: {"error":{"code":"...","message":"..."}}.
package httperror

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// maxText bounds the plain text kept for the message: http.Error's texts
// are one short line.
const maxText = 512

// JSON serves next, answering each of its error answers (status 400 and
// up) that is not JSON as the JSON error of that status instead: its code
// is protocol.ErrorCodeOf(status), its message the plain text's first line
// (without a leading status number, as in "404 page not found"). Other
// answers pass through untouched.
func JSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &convertingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}

// Write answers err as its JSON error, with the status of its code.
func Write(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(protocol.ErrorStatus(err))
	w.Write(protocol.EncodeError(err))
}

// convertingWriter holds back a plain-text error answer until the handler
// returns, then writes it as JSON.
type convertingWriter struct {
	http.ResponseWriter
	wroteHeader bool
	status      int // the held-back error status; 0 while passing through
	text        bytes.Buffer
}

func (c *convertingWriter) WriteHeader(status int) {
	if c.wroteHeader {
		return
	}
	if status >= 100 && status < 200 { // informational: more headers follow
		c.ResponseWriter.WriteHeader(status)
		return
	}
	c.wroteHeader = true
	if status >= 400 && !isJSON(c.Header().Get("Content-Type")) {
		c.status = status
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *convertingWriter) Write(p []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	if c.status == 0 {
		return c.ResponseWriter.Write(p)
	}
	if room := maxText - c.text.Len(); room > 0 {
		c.text.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Flush flushes an answer passing through; a held-back one is written
// whole by finish. A flush before anything was written sends a 200, as
// net/http does: it is recorded, so that an error status after it is not
// held back and then appended to that 200 as JSON.
func (c *convertingWriter) Flush() {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	if c.status == 0 {
		http.NewResponseController(c.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (c *convertingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// finish writes the held-back error, if any, as JSON.
func (c *convertingWriter) finish() {
	if c.status == 0 {
		return
	}
	h := c.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	c.ResponseWriter.WriteHeader(c.status)
	c.ResponseWriter.Write(protocol.EncodeError(chatapp.Errorf(protocol.ErrorCodeOf(c.status), "%s", message(c.status, c.text.String()))))
}

// message is the first line of a plain-text error, without a leading
// status number, or the status's own text when there is none.
func message(status int, text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(strings.TrimPrefix(line, strconv.Itoa(status)+" "))
	if line == "" {
		return strings.ToLower(http.StatusText(status))
	}
	return line
}

// Rooted serves next, except a request whose path does not start with "/"
// (a CONNECT to host:port): a ServeMux answers that one with net/http's
// plain-text 404, this with the JSON 404. It wraps no writer around next,
// so that WebSocket upgrades reach their connection as they are.
func Rooted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/") {
			Write(w, chatapp.Errorf(chatapp.ENOTFOUND, "page not found"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isJSON reports whether a Content-Type is JSON (application/json or a
// +json type).
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"))
}
