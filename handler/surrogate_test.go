package handler_test

import (
	"context"
	"testing"
)

// TestUnpairedSurrogatesRefused: a text with an unpaired surrogate escape
// is refused rather than stored as U+FFFD; a U+FFFD sent as such is kept.
func TestUnpairedSurrogatesRefused(t *testing.T) {
	e := newEnv(t)
	for body, want := range map[string]int{
		`{"room_id":"r","user_id":"u","text":"a\ud800b"}`:              400,
		`{"room_id":"r","user_id":"u","text":"\udc00"}`:                400,
		`{"room_id":"r","user_id":"u","text":"x","name":"\ud83d"}`:     400,
		`{"room_id":"r","user_id":"u","text":"pair \ud83d\ude00"}`:     200,
		`{"room_id":"r","user_id":"u","text":"sent \ufffd"}`:           200,
		`{"room_id":"r","user_id":"u","text":"sent ` + "\uFFFD" + `"}`: 200,
		// A U+FFFD elsewhere in the body does not excuse an unpaired escape.
		`{"room_id":"r","user_id":"u","text":"a\ud800b","x":"\ufffd"}`:           400,
		`{"room_id":"r","user_id":"u","text":"a\ud800b","x":"` + "\uFFFD" + `"}`: 400,
		`{"room_id":"r","user_id":"u","text":"a\ud800\u0041"}`:                   400,
		`{"room_id":"r","user_id":"u","text":"a\\ud800"}`:                        200, // an escaped backslash, then "ud800"
		`{"room_id":"r","user_id":"u","text":"\"\ud83d\ude00\""}`:                200,
	} {
		resp, err := e.h.PutMessage(context.Background(), restRequest("PUT", "/chat", "", body))
		if err != nil || resp.StatusCode != want {
			t.Errorf("PUT %s: %v %d %s, want %d", body, err, resp.StatusCode, resp.Body, want)
		}
	}
}
