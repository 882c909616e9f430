package chatapp_test

import (
	"encoding/json"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// BenchmarkMessageEncode is the push frame of one send: the handler encodes
// each message once for its whole room.
func BenchmarkMessageEncode(b *testing.B) {
	id, ms := chatapp.NextMessageID()
	m := &chatapp.Message{ID: id, RoomID: "lobby", Timestamp: ms, UserID: "42", Name: "Ada",
		Text: "hello, this is a chat message of ordinary length"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextMessageID is the id every stored message gets, under the
// generator's lock.
func BenchmarkNextMessageID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		chatapp.NextMessageID()
	}
}
