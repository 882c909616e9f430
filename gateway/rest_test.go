package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitQuery(t *testing.T) {
	tests := []struct {
		raw    string
		single map[string]string
		multi  map[string][]string
	}{
		{"", nil, nil},
		{"&", nil, nil},
		{"&&", nil, nil},
		{"room_id=R&", map[string]string{"room_id": "R"}, map[string][]string{"room_id": {"R"}}},
		{"room_id=R", map[string]string{"room_id": "R"}, map[string][]string{"room_id": {"R"}}},
		{"&room_id=R&&user_id=U&", map[string]string{"room_id": "R", "user_id": "U"}, map[string][]string{"room_id": {"R"}, "user_id": {"U"}}},
		{"room_id=", map[string]string{"room_id": ""}, map[string][]string{"room_id": {""}}},
		{"flag", map[string]string{"flag": ""}, map[string][]string{"flag": {""}}},
		// The single-value map keeps the last value, as API Gateway does.
		{"a=1&a=2", map[string]string{"a": "2"}, map[string][]string{"a": {"1", "2"}}},
		{"name=Alice+Smith&room_id=caf%C3%A9", map[string]string{"name": "Alice Smith", "room_id": "café"}, map[string][]string{"name": {"Alice Smith"}, "room_id": {"café"}}},
		// A malformed pair is dropped; the others stay.
		{"bad=%zz&room_id=R", map[string]string{"room_id": "R"}, map[string][]string{"room_id": {"R"}}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			single, multi := splitQuery(tt.raw)
			if (single == nil) != (tt.single == nil) || (multi == nil) != (tt.multi == nil) {
				t.Fatalf("splitQuery(%q) = %#v, %#v; want %#v, %#v", tt.raw, single, multi, tt.single, tt.multi)
			}
			if fmt.Sprint(single) != fmt.Sprint(tt.single) || len(single) != len(tt.single) {
				t.Errorf("single = %#v, want %#v", single, tt.single)
			}
			if fmt.Sprint(multi) != fmt.Sprint(tt.multi) || len(multi) != len(tt.multi) {
				t.Errorf("multi = %#v, want %#v", multi, tt.multi)
			}
		})
	}
}

// TestNewConnectionID: ids keep API Gateway's shape, with or without a
// cluster node's prefix, and do not repeat.
func TestNewConnectionID(t *testing.T) {
	const n = 10000
	for _, prefix := range []string{"", "Ab3x"} {
		seen := make(map[string]bool, n)
		for range n {
			id := newConnectionID(prefix)
			if len(id) != 16 {
				t.Fatalf("id %q has %d chars, want 16", id, len(id))
			}
			if !strings.HasSuffix(id, "=") {
				t.Fatalf("id %q does not end with =", id)
			}
			if !strings.HasPrefix(id, prefix) {
				t.Fatalf("id %q does not begin with the prefix %q", id, prefix)
			}
			if i := strings.IndexFunc(id[:15], func(r rune) bool { return !strings.ContainsRune(idAlphabet, r) }); i >= 0 {
				t.Fatalf("id %q holds %q outside the alphabet", id, id[i])
			}
			if seen[id] {
				t.Fatalf("id %q returned twice", id)
			}
			seen[id] = true
		}
	}
}

func TestNewRequestID(t *testing.T) {
	id := newRequestID()
	parts := strings.Split(id, "-")
	if len(id) != 36 || len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		t.Fatalf("request id %q is not UUID-shaped", id)
	}
	if strings.Trim(id, "0123456789abcdef-") != "" {
		t.Errorf("request id %q is not lowercase hex", id)
	}
	if newRequestID() == id {
		t.Error("two request ids are equal")
	}
}

func TestEncodeBody(t *testing.T) {
	tests := []struct {
		body   []byte
		want   string
		base64 bool
	}{
		{nil, "", false},
		{[]byte(`{"a":"é"}`), `{"a":"é"}`, false},
		{[]byte{0xff, 0x00}, "/wA=", true},
	}
	for _, tt := range tests {
		got, b64 := eventBody(tt.body, utf8.Valid(tt.body))
		if got != tt.want || b64 != tt.base64 {
			t.Errorf("eventBody(%q) = %q, %v; want %q, %v", tt.body, got, b64, tt.want, tt.base64)
		}
	}
}

func TestSplitHeaders(t *testing.T) {
	r := httptest.NewRequest("GET", "http://chat.example/chat?room_id=R", nil)
	r.Header = http.Header{"Accept": {"text/html", "application/json"}, "X-One": {"1"}}
	single, multi := splitHeaders(r)
	if single["Accept"] != "application/json" || single["X-One"] != "1" || single["Host"] != "chat.example" {
		t.Errorf("single = %#v", single)
	}
	if len(multi["Accept"]) != 2 || multi["Host"][0] != "chat.example" {
		t.Errorf("multi = %#v", multi)
	}

	bare := &http.Request{Header: http.Header{}}
	if single, multi := splitHeaders(bare); single != nil || multi != nil {
		t.Errorf("no headers: %#v, %#v; want nil maps", single, multi)
	}
}
