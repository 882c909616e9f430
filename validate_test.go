package chatapp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/storetest"
)

func TestValidateRoomAndUserID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"simple", "lobby", true},
		{"digits", "12345", true},
		{"all punctuation allowed", "a-b_c.d:e@f+g", true},
		{"unicode letters", "部屋", true},
		{"accented letters", "café", true},
		{"unicode digits", "٣٤", true},
		{"max length", strings.Repeat("a", chatapp.MaxIDBytes), true},
		{"max length multibyte", strings.Repeat("é", chatapp.MaxIDBytes/2), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", chatapp.MaxIDBytes+1), false},
		{"too long in bytes not runes", strings.Repeat("é", chatapp.MaxIDBytes/2+1), false},
		{"space", "my room", false},
		{"leading space", " room", false},
		{"trailing space", "room ", false},
		{"less than", "<script>", false},
		{"slash", "a/b", false},
		{"question mark", "a?b", false},
		{"ampersand", "a&b", false},
		{"percent", "a%20b", false},
		{"quote", `a"b`, false},
		{"newline", "a\nb", false},
		{"tab", "a\tb", false},
		{"NUL", "a\x00b", false},
		{"DEL", "a\x7fb", false},
		{"invalid UTF-8", "a\xffb", false},
		{"emoji", "room😀", false},
		{"zero width space", "a\u200bb", false},
	}
	validators := []struct {
		field string
		fn    func(string) error
	}{
		{"room_id", chatapp.ValidateRoomID},
		{"user_id", chatapp.ValidateUserID},
	}
	for _, v := range validators {
		for _, tt := range tests {
			t.Run(v.field+"/"+tt.name, func(t *testing.T) {
				err := v.fn(tt.id)
				if tt.ok {
					if err != nil {
						t.Fatalf("%s(%q) = %v, want nil", v.field, tt.id, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("%s(%q) = nil, want an error", v.field, tt.id)
				}
				if code := chatapp.ErrorCode(err); code != chatapp.EINVALID {
					t.Errorf("code = %q, want %q", code, chatapp.EINVALID)
				}
				if msg := chatapp.ErrorMessage(err); !strings.Contains(msg, v.field) {
					t.Errorf("message %q does not name the field %s", msg, v.field)
				}
			})
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"empty is allowed", "", true},
		{"ascii", "Alice", true},
		{"with spaces", "Alice Smith", true},
		{"punctuation", "<Bob> & 'co'", true},
		{"unicode", "山田 太郎", true},
		{"emoji", "Zoë 😀", true},
		{"max runes", strings.Repeat("é", chatapp.MaxNameRunes), true},
		{"too many runes", strings.Repeat("a", chatapp.MaxNameRunes+1), false},
		{"too many multibyte runes", strings.Repeat("é", chatapp.MaxNameRunes+1), false},
		{"newline", "Alice\nBob", false},
		{"tab", "Alice\tBob", false},
		{"NUL", "Alice\x00", false},
		{"escape", "\x1b[31mred", false},
		{"invalid UTF-8", "Al\xffice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := chatapp.ValidateName(tt.input)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateName(%q) = %v, want nil", tt.input, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateName(%q) = nil, want an error", tt.input)
			}
			if code := chatapp.ErrorCode(err); code != chatapp.EINVALID {
				t.Errorf("code = %q, want %q", code, chatapp.EINVALID)
			}
		})
	}
}

func TestValidateText(t *testing.T) {
	tests := []struct {
		name  string
		input string
		code  string // "" when valid
	}{
		{"one char", "x", ""},
		{"sentence", "hello, world", ""},
		{"unicode", "こんにちは 🌏", ""},
		{"surrounded by whitespace", "  hi \n", ""},
		{"multi-line", "line 1\nline 2", ""},
		{"html is just text", "<b>bold</b>", ""},
		{"exactly the limit", strings.Repeat("a", chatapp.MaxMessageBytes), ""},
		{"blank", "", chatapp.EINVALID},
		{"spaces", "   ", chatapp.EINVALID},
		{"whitespace mix", " \t\r\n\v\f", chatapp.EINVALID},
		{"unicode whitespace", "\u00a0\u3000\u2003", chatapp.EINVALID},
		{"only invisible format characters", "\u200b\u202e\u2066\ufeff", chatapp.EINVALID},
		{"format characters around text", "\u200bhi\u200d", ""},
		{"one over the limit", strings.Repeat("a", chatapp.MaxMessageBytes+1), chatapp.ETOOLARGE},
		{"over the limit in bytes", strings.Repeat("é", chatapp.MaxMessageBytes/2+1), chatapp.ETOOLARGE},
		{"huge whitespace", strings.Repeat(" ", chatapp.MaxMessageBytes+1), chatapp.ETOOLARGE},
		{"invalid UTF-8", "hi \xff there", chatapp.EINVALID},
		{"truncated UTF-8", "caf\xc3", chatapp.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := chatapp.ValidateText(tt.input)
			if code := chatapp.ErrorCode(err); code != tt.code {
				t.Fatalf("ValidateText(%.40q) code = %q (err %v), want %q", tt.input, code, err, tt.code)
			}
		})
	}
	if got := chatapp.ErrorCode(chatapp.ValidateText(strings.Repeat("a", chatapp.MaxMessageBytes+1))); got != chatapp.ETOOLARGE {
		t.Errorf("code of an oversize text = %s, want too_large (413)", got)
	}
}

func TestMessageValidate(t *testing.T) {
	valid := func() chatapp.Message {
		return chatapp.Message{RoomID: "lobby", UserID: "u1", Name: "Alice", Text: "hi"}
	}
	tests := []struct {
		name   string
		mutate func(*chatapp.Message)
		code   string
	}{
		{"valid", func(*chatapp.Message) {}, ""},
		{"no name", func(m *chatapp.Message) { m.Name = "" }, ""},
		{"no room", func(m *chatapp.Message) { m.RoomID = "" }, chatapp.EINVALID},
		{"bad room", func(m *chatapp.Message) { m.RoomID = "a b" }, chatapp.EINVALID},
		{"no user", func(m *chatapp.Message) { m.UserID = "" }, chatapp.EINVALID},
		{"bad name", func(m *chatapp.Message) { m.Name = "a\nb" }, chatapp.EINVALID},
		{"blank text", func(m *chatapp.Message) { m.Text = " " }, chatapp.EINVALID},
		{"huge text", func(m *chatapp.Message) { m.Text = strings.Repeat("x", chatapp.MaxMessageBytes+1) }, chatapp.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.mutate(&m)
			if code := chatapp.ErrorCode(m.Validate()); code != tt.code {
				t.Fatalf("code = %q, want %q", code, tt.code)
			}
		})
	}
}

func TestConnectionValidate(t *testing.T) {
	tests := []struct {
		name string
		c    chatapp.Connection
		ok   bool
	}{
		{"valid", chatapp.Connection{RoomID: "r", UserID: "u", Name: "n"}, true},
		{"no name", chatapp.Connection{RoomID: "r", UserID: "u"}, true},
		{"no room", chatapp.Connection{UserID: "u"}, false},
		{"no user", chatapp.Connection{RoomID: "r"}, false},
		{"bad name", chatapp.Connection{RoomID: "r", UserID: "u", Name: "\x00"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && chatapp.ErrorCode(err) != chatapp.EINVALID {
				t.Errorf("code = %q, want invalid", chatapp.ErrorCode(err))
			}
		})
	}
}

func TestMessageFilterValidate(t *testing.T) {
	id1 := storetest.MessageID(time.Now())
	id2 := storetest.MessageID(time.Now())
	tests := []struct {
		name      string
		filter    chatapp.MessageFilter
		code      string
		wantLimit int // checked when code is ""
	}{
		{"default limit", chatapp.MessageFilter{RoomID: "r"}, "", chatapp.DefaultHistoryLimit},
		{"limit 1", chatapp.MessageFilter{RoomID: "r", Limit: 1}, "", 1},
		{"max limit", chatapp.MessageFilter{RoomID: "r", Limit: chatapp.MaxHistoryLimit}, "", chatapp.MaxHistoryLimit},
		{"over max limit", chatapp.MessageFilter{RoomID: "r", Limit: chatapp.MaxHistoryLimit + 1}, chatapp.EINVALID, 0},
		{"negative limit", chatapp.MessageFilter{RoomID: "r", Limit: -1}, chatapp.EINVALID, 0},
		{"no room", chatapp.MessageFilter{}, chatapp.EINVALID, 0},
		{"bad room", chatapp.MessageFilter{RoomID: "r<"}, chatapp.EINVALID, 0},
		{"before cursor", chatapp.MessageFilter{RoomID: "r", Before: id1}, "", chatapp.DefaultHistoryLimit},
		{"after cursor", chatapp.MessageFilter{RoomID: "r", After: id1, Limit: 5}, "", 5},
		{"lowercase cursor", chatapp.MessageFilter{RoomID: "r", Before: strings.ToLower(id1)}, "", chatapp.DefaultHistoryLimit},
		{"garbage cursor", chatapp.MessageFilter{RoomID: "r", Before: "garbage"}, chatapp.EINVALID, 0},
		{"garbage after", chatapp.MessageFilter{RoomID: "r", After: "garbage"}, chatapp.EINVALID, 0},
		{"cursor too long", chatapp.MessageFilter{RoomID: "r", Before: id1 + "0"}, chatapp.EINVALID, 0},
		{"cursor with bad char", chatapp.MessageFilter{RoomID: "r", Before: id1[:25] + "U"}, chatapp.EINVALID, 0},
		{"cursor overflows", chatapp.MessageFilter{RoomID: "r", Before: "8" + id1[1:]}, chatapp.EINVALID, 0},
		{"cursor and after", chatapp.MessageFilter{RoomID: "r", Before: id1, After: id2}, chatapp.EINVALID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			err := f.Validate()
			if code := chatapp.ErrorCode(err); code != tt.code {
				t.Fatalf("Validate() = %v, want code %q", err, tt.code)
			}
			if tt.code == "" && f.Limit != tt.wantLimit {
				t.Errorf("Limit = %d, want %d", f.Limit, tt.wantLimit)
			}
		})
	}
}

func TestSanitizeNameIsAlwaysValid(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Ada", "Ada"},
		{"  Ada\x00\x1b[0m  ", "Ada[0m"},
		{"\xff\xfeBob", "Bob"},
		{"\u202eevil\u200b", "evil"},
		{strings.Repeat("é", 100), strings.Repeat("é", chatapp.MaxNameRunes)},
		{"\t\n", ""},
	} {
		got := chatapp.SanitizeName(tc.in)
		if got != tc.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := chatapp.ValidateName(got); err != nil {
			t.Errorf("SanitizeName(%q) = %q, which ValidateName refuses: %v", tc.in, got, err)
		}
	}
}
