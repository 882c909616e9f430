package bench

import "testing"

func TestMessageTextRoundTrip(t *testing.T) {
	text := messageText(1764067200123456789, 7, 42, 80)
	if len(text) != 80 {
		t.Fatalf("len %d, want 80", len(text))
	}
	bt, ok := parseText([]byte(text))
	if !ok || bt.sentNanos != 1764067200123456789 || bt.sender != 7 || bt.seq != 42 {
		t.Fatalf("%+v %v", bt, ok)
	}
	if _, ok := parseText([]byte("hello")); ok {
		t.Fatal("parsed a foreign text")
	}
}

func TestParseFrame(t *testing.T) {
	for _, frame := range []string{
		`{"id":"01KAZ3F4J7Q9V2C8N6M5T0R1WX","room_id":"r","timestamp":1,"message":"cb 1 2 3","user_id":"u","name":"n"}`,
		`{"message":"cb 1 2 3","id":"01KAZ3F4J7Q9V2C8N6M5T0R1WX"}`,
		`{"room_id":"r","id":"01KAZ3F4J7Q9V2C8N6M5T0R1WX","message":"cb 1 2 3 \"x\""}`,
	} {
		id, text, ok := parseFrame([]byte(frame))
		if !ok || string(id) != "01KAZ3F4J7Q9V2C8N6M5T0R1WX" || string(text[:8]) != "cb 1 2 3" {
			t.Errorf("%s: %q %q %v", frame, id, text, ok)
		}
	}
	if _, _, ok := parseFrame([]byte(`{"error":{"code":"invalid","message":"x"}}`)); ok {
		t.Error("parsed an error frame as a message")
	}
}

func TestMarkSeen(t *testing.T) {
	m := &member{}
	if !m.markSeen(1, 500) || m.markSeen(1, 500) || !m.markSeen(2, 500) || !m.markSeen(1, 0) {
		t.Fatal("markSeen")
	}
}

// TestParseTextRefuses: a text that is not three numbers after the prefix,
// each ended by a space or the end, or too large, is foreign.
func TestParseTextRefuses(t *testing.T) {
	for _, text := range []string{"cb ", "cb 1 2", "cb 1 2 x", "cb 1x 2 3", "cb -1 2 3", "cb 99999999999999999999 2 3", "cb 1 2147483648 3", "cb 1  2 3"} {
		if bt, ok := parseText([]byte(text)); ok {
			t.Errorf("%q parsed as %+v", text, bt)
		}
	}
	if bt, ok := parseText([]byte("cb 1 2 3")); !ok || bt != (benchText{1, 2, 3}) {
		t.Errorf("cb 1 2 3: %+v %v", bt, ok)
	}
}
