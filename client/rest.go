package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// Error is an error answered by the server: a REST response's or a refused
// handshake's {"error":{"code","message"}} body, or an error frame.
//
// It unwraps to a *chatapp.Error, so chatapp.ErrorCode(err) and errors.As
// with a *chatapp.Error work on it too.
type Error struct {
	// StatusCode is the HTTP status of the response; for an error frame,
	// the status its code stands for.
	StatusCode int
	// Code is one of the chatapp error codes (chatapp.EINVALID, ...).
	Code    string
	Message string
	// RetryAfter is the answer's Retry-After, when it has one: the wait
	// the server asks for before a retry (429, 503).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("chatapp: %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Unwrap returns the error as a *chatapp.Error.
func (e *Error) Unwrap() error { return &chatapp.Error{Code: e.Code, Message: e.Message} }

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// maxResponseBody bounds a successful response. A server bounds a history
// page to 1 MiB (handler.MaxHistoryBodyBytes); an older one sent a full page
// whatever its size.
const maxResponseBody = 64 << 20

// decodeError turns a non-2xx response body into an *Error. A body that is
// not the JSON error (a proxy's 502 page, API Gateway's
// {"message":"Forbidden"}) keeps its status and gets the code of the status.
func decodeError(status int, body []byte) *Error {
	var b protocol.ErrorBody
	if err := json.Unmarshal(body, &b); err == nil && b.Error.Code != "" {
		return &Error{StatusCode: status, Code: b.Error.Code, Message: b.Error.Message}
	}
	msg := strings.TrimSpace(string(body))
	var gw struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &gw) == nil && gw.Message != "" {
		msg = gw.Message
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{StatusCode: status, Code: protocol.ErrorCodeOf(status), Message: msg}
}

// do sends one REST request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, rawURL string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, err := chatapp.MarshalJSON(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, redact(rawURL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		e := decodeError(resp.StatusCode, data)
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
		}
		return e
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, redact(rawURL), err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, redact(rawURL), err)
	}
	return nil
}

// redactToken hides token wherever err's text quotes it (a URL in a dial
// error), keeping err for errors.Is and errors.As.
func redactToken(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), token, "REDACTED"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact drops the query of a URL for error messages.
func redact(rawURL string) string {
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		return rawURL[:i]
	}
	return rawURL
}

// sendAttempts bounds the tries of one Send.
const sendAttempts = 4

// Send sends a message to the room over the REST API (PUT) and returns it as
// stored, with its id and timestamp. It also arrives as a KindMessage event,
// like every message of the room. Bad input is an *Error, such as code
// chatapp.EINVALID with status 400 for blank text.
//
// A send that fails on the way (a network error, a 5xx, 408, 429) is
// retried with backoff (at least the answer's Retry-After), up to 4 tries
// in all, under one idempotency key: however many tries reach the server,
// the message is stored and delivered once. An answer whose Retry-After
// is longer than MaxBackoff (the user's send rate) fails it at once.
func (c *Client) Send(ctx context.Context, text string) (*chatapp.Message, error) {
	return c.send(ctx, text, rand.Text())
}

// send is Send under a given idempotency key: a socket send's, when it
// goes again by PUT.
func (c *Client) send(ctx context.Context, text, key string) (*chatapp.Message, error) {
	in := protocol.PutRequest{RoomID: protocol.FlexString(c.cfg.Room), Text: text, UserID: protocol.FlexString(c.cfg.UserID), Name: c.cfg.Name, IdempotencyKey: key}
	var out protocol.PutResponse
	var err error
	for attempt := range sendAttempts {
		if attempt > 0 {
			delay := c.retryDelay(attempt, err)
			c.log.Debug("retrying send", "attempt", attempt+1, "delay", delay, "err", err)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w (after %v)", ctx.Err(), err)
			case <-time.After(delay):
			}
		}
		err = c.do(ctx, http.MethodPut, c.cfg.APIURL, in, &out)
		if err == nil || !retryable(ctx, err) || c.waitsTooLong(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if out.Message == nil {
		return nil, errors.New("PUT: the response has no message")
	}
	return out.Message, nil
}

// retryDelay is the wait before retry attempt n of a send that failed with
// err: the backoff, or the answer's Retry-After when longer.
func (c *Client) retryDelay(attempt int, err error) time.Duration {
	delay := backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > delay {
		delay = e.RetryAfter
	}
	return delay
}

// waitsTooLong tells whether err asks for a wait longer than MaxBackoff
// (the user's send rate, minutes away): the send fails now rather than
// hold the message that long.
func (c *Client) waitsTooLong(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.RetryAfter > c.cfg.MaxBackoff
}

// retryable tells whether a failed send may succeed when tried again: the
// server or the network failed, timed out, or asked to slow down. A 4xx
// other than 408 and 429 is the request's fault and fails again.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout
	}
	return true
}

// HistoryOptions selects a page of history. With neither Cursor nor After,
// the page is the latest messages.
type HistoryOptions struct {
	// Limit is the page size, 1 to chatapp.MaxHistoryLimit; 0 means the
	// server's default (chatapp.DefaultHistoryLimit).
	Limit int
	// Cursor asks for the page of messages older than this id: a previous
	// page's NextCursor.
	Cursor string
	// After asks for the messages newer than this id.
	After string
}

// HistoryPage is one page of history.
type HistoryPage struct {
	// Messages are oldest first.
	Messages []*chatapp.Message
	// NextCursor is set while older messages exist: pass it as Cursor for
	// the page before this one. A page may hold fewer messages than its
	// limit and still have a NextCursor: the server bounds a page in bytes.
	NextCursor string
	// HasMore is set on an After page that stopped before the newest
	// message, at its limit or at the server's byte bound: ask again with
	// the last message's id.
	HasMore bool
}

// History reads one page of the room's history.
func (c *Client) History(ctx context.Context, opts HistoryOptions) (HistoryPage, error) {
	q := url.Values{protocol.QueryRoomID: {c.cfg.Room}}
	if opts.Limit != 0 {
		q.Set(protocol.QueryLimit, strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set(protocol.QueryCursor, opts.Cursor)
	}
	if opts.After != "" {
		q.Set(protocol.QueryAfter, opts.After)
	}
	var out protocol.HistoryResponse
	if err := c.do(ctx, http.MethodGet, c.cfg.APIURL+"?"+q.Encode(), nil, &out); err != nil {
		return HistoryPage{}, err
	}
	return HistoryPage{Messages: out.Messages, NextCursor: out.NextCursor, HasMore: out.HasMore}, nil
}

// Users lists the room's open connections, one entry per connection (a user
// connected twice appears twice).
func (c *Client) Users(ctx context.Context) ([]*chatapp.Connection, error) {
	var out protocol.UsersResponse
	u := strings.TrimSuffix(c.cfg.APIURL, "/") + "/users?" + url.Values{protocol.QueryRoomID: {c.cfg.Room}}.Encode()
	if err := c.do(ctx, http.MethodGet, u, nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}
