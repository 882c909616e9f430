package nats

import (
	"crypto/rand"
	"strings"
)

// The subjects the nodes speak on: a room's pushes on
// chatapp.room.<room>, a node's requests (posts to its connections) on
// chatapp.node.<tag>.
const (
	roomSubjects = "chatapp.room."
	nodeSubjects = "chatapp.node."
)

// roomSubject is the subject of a room's pushes. A room id may hold '.',
// which separates a subject's tokens: every byte but a letter, a digit and
// "-_:@+" is written %XX, '%' included, so that two rooms never share a
// subject.
func roomSubject(room string) string {
	var b strings.Builder
	b.Grow(len(roomSubjects) + len(room))
	b.WriteString(roomSubjects)
	for i := 0; i < len(room); i++ {
		switch c := room[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-_:@+", c) >= 0:
			b.WriteByte(c)
		default:
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func nodeSubject(tag string) string { return nodeSubjects + tag }

// A node's tag begins every connection id its gateway mints
// (gateway.Config.ConnectionIDPrefix): TagLen letters and digits, random
// (62⁴, about 15 million tags), checked free on the broker at start. The
// store finds a node's rows by it (postgres.DB.ListConnectionsOfTags).
const (
	TagLen      = 4
	tagAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// connectionIDLen is API Gateway's: 15 characters and "=".
	connectionIDLen = 16
)

func newTag() string {
	b := make([]byte, TagLen)
	rand.Read(b)
	for i := range b {
		b[i] = tagAlphabet[int(b[i])%len(tagAlphabet)]
	}
	return string(b)
}

// tagOf returns the tag of the node that holds a connection, "" for an id
// no node minted.
func tagOf(connectionID string) string {
	if len(connectionID) != connectionIDLen || connectionID[connectionIDLen-1] != '=' {
		return ""
	}
	tag := connectionID[:TagLen]
	if !IsTag(tag) {
		return ""
	}
	return tag
}

// IsTag reports whether s is shaped as a node's tag.
func IsTag(s string) bool { return len(s) == TagLen && strings.Trim(s, tagAlphabet) == "" }

// TagOf returns the tag of the node that minted a connection id, "" for
// an id no node minted: a dead node's rows are found by it.
func TagOf(connectionID string) string { return tagOf(connectionID) }
