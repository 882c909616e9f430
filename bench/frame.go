package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/chatapp-dev/chatapp"
)

// A benchmark message's text is "cb <send unix nanos> <sender> <seq>",
// padded with '.' to the configured size. The receivers parse it back to
// measure send-to-receive latency (one host, one clock) and to count every
// sender's sequence numbers.
const textPrefix = "cb "

func messageText(sentNanos int64, sender, seq int, size int) string {
	b := make([]byte, 0, max(size, 48))
	b = append(b, textPrefix...)
	b = strconv.AppendInt(b, sentNanos, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(seq), 10)
	if len(b) < size {
		b = append(b, ' ')
		for len(b) < size {
			b = append(b, '.')
		}
	}
	return string(b)
}

// benchText is a parsed message text.
type benchText struct {
	sentNanos int64
	sender    int
	seq       int
}

func parseText(text []byte) (benchText, bool) {
	if !bytes.HasPrefix(text, []byte(textPrefix)) {
		return benchText{}, false
	}
	// Three numbers, each ended by a space or the text's end, read in
	// place: this runs once per delivery, on the cores the server uses.
	var n [3]int64
	rest := text[len(textPrefix):]
	for i := range n {
		digits := 0
		for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
			d := int64(rest[digits] - '0')
			if n[i] > (math.MaxInt64-d)/10 {
				return benchText{}, false
			}
			n[i] = n[i]*10 + d
			digits++
		}
		if digits == 0 || digits < len(rest) && rest[digits] != ' ' {
			return benchText{}, false
		}
		rest = rest[min(digits+1, len(rest)):]
	}
	if n[1] > math.MaxInt32 || n[2] > math.MaxInt32 {
		return benchText{}, false
	}
	return benchText{n[0], int(n[1]), int(n[2])}, true
}

// parseFrame returns a pushed message's id and text. It scans for the two
// fields first (the server writes them without escapes for benchmark
// texts) and falls back to JSON decoding.
func parseFrame(frame []byte) (id, text []byte, ok bool) {
	if id, ok = stringField(frame, `"id":"`); ok {
		if text, ok = stringField(frame, `"message":"`); ok {
			return id, text, true
		}
	}
	var f chatapp.Message
	if err := json.Unmarshal(frame, &f); err != nil || f.ID == "" {
		return nil, nil, false
	}
	return []byte(f.ID), []byte(f.Text), true
}

// stringField finds key (`"name":"`) and returns the string after it if it
// has no escape.
func stringField(frame []byte, key string) ([]byte, bool) {
	i := bytes.Index(frame, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := frame[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return nil, false
	}
	return rest[:j], true
}

// idHash is what receivers and senders XOR together to compare the sets of
// ids they saw without keeping them.
func idHash(id []byte) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for _, c := range id {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
