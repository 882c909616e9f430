package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/client"
)

// errorWords is what went wrong, in words for the status line: Long with
// the host and the server's message, Short when the line is narrow. Both
// say what happened; neither is a cut-off Go error.
type errorWords struct {
	Short, Long string
}

// errnoWords names the socket errors a chat meets.
var errnoWords = map[syscall.Errno]string{
	syscall.ECONNREFUSED:  "connection refused",
	syscall.ECONNRESET:    "connection reset",
	syscall.ECONNABORTED:  "connection aborted",
	syscall.EPIPE:         "connection lost",
	syscall.ETIMEDOUT:     "timed out",
	syscall.EHOSTUNREACH:  "host unreachable",
	syscall.ENETUNREACH:   "network unreachable",
	syscall.ENETDOWN:      "network down",
	syscall.EADDRNOTAVAIL: "address not available",
}

// describeError turns an error of the client library (a dial, a handshake
// or REST answer, a dropped socket, a context) into errorWords. The client
// wraps them with %w, so the kinds are found with errors.As and errors.Is.
// The words are cleaned here, whole: a host name, a DNS name, a server's
// message or close reason may come from a server (a redirect names any
// host), and they reach a terminal (the footer, or stderr).
func describeError(err error) errorWords {
	w := wordsOf(err)
	return errorWords{cleanText(w.Short), cleanText(w.Long)}
}

// wordsOf is describeError's words, uncleaned.
func wordsOf(err error) errorWords {
	if err == nil {
		return errorWords{}
	}
	host := errorHost(err)
	// A phrase with the host in it, or without when no host is known.
	at := func(withHost, without string) string {
		if host == "" {
			return without
		}
		return fmt.Sprintf(withHost, host)
	}
	var (
		apiErr   *client.Error
		closeErr websocket.CloseError
		dnsErr   *net.DNSError
		opErr    *net.OpError
		errno    syscall.Errno
		netErr   net.Error
	)
	switch {
	case errors.As(err, &apiErr):
		return statusWords(apiErr)
	case errors.Is(err, client.ErrKeepAliveUnanswered):
		return errorWords{"no answer", at("no answer from %s (the connection is dead)", "no answer (the connection is dead)")}
	case errors.As(err, &closeErr):
		return closeWords(closeErr)
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return errorWords{"unknown host", "unknown host " + dnsErr.Name}
		}
		return errorWords{"DNS lookup failed", "can't look up " + dnsErr.Name}
	}
	if w, ok := tlsWords(err); ok {
		w.Long = at("TLS with %s failed: ", "TLS failed: ") + w.Short
		return w
	}
	dialing := errors.As(err, &opErr) && opErr.Op == "dial"
	reach := func(what string) errorWords {
		if dialing {
			return errorWords{what, at("can't reach %s", "can't connect") + " (" + what + ")"}
		}
		return errorWords{what, at("connection to %s lost", "connection lost") + " (" + what + ")"}
	}
	switch {
	case errors.As(err, &errno) && errnoWords[errno] != "":
		return reach(errnoWords[errno])
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return errorWords{"timed out", at("no answer from %s", "no answer") + " (timed out)"}
	case errors.Is(err, context.Canceled):
		return errorWords{"canceled", "canceled"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return errorWords{"connection lost", at("connection to %s lost", "connection lost")}
	case dialing:
		return errorWords{"can't connect", at("can't reach %s", "can't connect") + " (" + opErr.Err.Error() + ")"}
	}
	// Something else: its innermost words, then the whole of it.
	msg := err.Error()
	short := msg
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		short = msg[i+2:]
	}
	return errorWords{short, msg}
}

// statusWords names an HTTP answer: the handshake's or a REST request's,
// or an error frame's code.
func statusWords(e *client.Error) errorWords {
	var short string
	switch s := e.StatusCode; {
	case s == http.StatusUnauthorized:
		short = "token rejected"
	case s == http.StatusForbidden:
		short = "forbidden"
	case s == http.StatusNotFound:
		short = "not found (404)"
	case s == http.StatusRequestEntityTooLarge:
		short = "too large"
	case s == http.StatusTooManyRequests:
		short = "rate limited"
	case s >= 500:
		short = fmt.Sprintf("server error %d", s)
	case s >= 400:
		short = fmt.Sprintf("refused (%d)", s)
	default:
		short = fmt.Sprintf("answer %d", s)
	}
	msg := strings.TrimSpace(cleanText(e.Message))
	if msg == "" || strings.EqualFold(msg, http.StatusText(e.StatusCode)) {
		return errorWords{short, short}
	}
	return errorWords{short, short + ": " + msg}
}

// closeWords names a close frame from the server.
func closeWords(ce websocket.CloseError) errorWords {
	var short string
	switch ce.Code {
	case websocket.StatusNormalClosure:
		short = "closed by the server"
	case websocket.StatusGoingAway:
		short = "server going away"
	case websocket.StatusPolicyViolation:
		short = "closed by the server (policy)"
	case websocket.StatusMessageTooBig:
		short = "message too big"
	case websocket.StatusInternalError:
		short = "server error (1011)"
	case websocket.StatusTryAgainLater:
		short = "server busy"
	default:
		short = fmt.Sprintf("closed by the server (%d)", int(ce.Code))
	}
	if reason := strings.TrimSpace(cleanText(ce.Reason)); reason != "" {
		return errorWords{short, short + ": " + reason}
	}
	return errorWords{short, short}
}

// tlsWords names a failed TLS handshake.
func tlsWords(err error) (errorWords, bool) {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown):
		return errorWords{Short: "certificate not trusted"}, true
	case errors.As(err, &hostname):
		return errorWords{Short: "certificate is for another host"}, true
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return errorWords{Short: "certificate expired or not yet valid"}, true
		}
		return errorWords{Short: "certificate invalid"}, true
	case errors.As(err, &verify):
		return errorWords{Short: "certificate rejected"}, true
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http replaces the RecordHeaderError by its own words.
		return errorWords{Short: "not a TLS server (http:// or ws:// instead?)"}, true
	case errors.As(err, &alert):
		return errorWords{Short: "handshake refused (" + alert.Error() + ")"}, true
	}
	return errorWords{}, false
}

// errorHost is the host:port the failed request went to: the URL's host
// (the name as given, never its query, which may hold a token), else the
// socket's remote address.
func errorHost(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			return u.Host
		}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Addr != nil {
		return opErr.Addr.String()
	}
	return ""
}
