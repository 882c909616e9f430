package chatapp

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a client may send. They keep keys indexable, frames within
// API Gateway's 128 KB and items within DynamoDB's 400 KB.
const (
	MaxIDBytes      = 128       // room and user ids
	MaxNameRunes    = 64        // display names
	MaxMessageBytes = 16 * 1024 // message text, UTF-8
)

// ValidateRoomID checks a room id: 1 to MaxIDBytes of letters, digits and
// "-_.:@+", which keeps it safe in URLs, keys and logs.
func ValidateRoomID(id string) error { return validateID("room_id", id) }

// ValidateUserID checks a user id by the same rules as a room id.
func ValidateUserID(id string) error { return validateID("user_id", id) }

func validateID(field, id string) error {
	switch {
	case id == "":
		return Errorf(EINVALID, "%s is required", field)
	case len(id) > MaxIDBytes:
		return Errorf(EINVALID, "%s is longer than %d bytes", field, MaxIDBytes)
	case !utf8.ValidString(id):
		return Errorf(EINVALID, "%s is not valid UTF-8", field)
	}
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !isIDPunct(r) {
			return Errorf(EINVALID, "%s may hold only letters, digits and -_.:@+", field)
		}
	}
	return nil
}

func isIDPunct(r rune) bool {
	switch r {
	case '-', '_', '.', ':', '@', '+':
		return true
	}
	return false
}

// ValidateName checks a display name: optional, at most MaxNameRunes
// printable characters.
func ValidateName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return Errorf(EINVALID, "name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return Errorf(EINVALID, "name is longer than %d characters", MaxNameRunes)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return Errorf(EINVALID, "name holds a control character")
		}
	}
	return nil
}

// SanitizeName makes a display name that ValidateName accepts out of one a
// client cannot fix: a token's name claim, chosen by an identity provider.
// It drops what is not printable, trims spaces and keeps the first
// MaxNameRunes characters; invalid UTF-8 is dropped too.
func SanitizeName(name string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(name, "") {
		if n == MaxNameRunes {
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			n++
		}
	}
	return strings.TrimSpace(b.String())
}

// ValidateText checks a message text: not blank (nor only invisible
// format characters), valid UTF-8, at most MaxMessageBytes.
func ValidateText(text string) error {
	switch {
	case len(text) > MaxMessageBytes:
		return Errorf(ETOOLARGE, "message is longer than %d bytes", MaxMessageBytes)
	case !utf8.ValidString(text):
		return Errorf(EINVALID, "message is not valid UTF-8")
	}
	for _, r := range text {
		// Format characters (zero-width spaces, direction overrides) show
		// nothing: a text of only those is as blank as spaces.
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return nil
		}
	}
	return Errorf(EINVALID, "text is required")
}

// Validate checks a message a client sent.
func (m *Message) Validate() error {
	if err := ValidateRoomID(m.RoomID); err != nil {
		return err
	}
	if err := ValidateUserID(m.UserID); err != nil {
		return err
	}
	if err := ValidateName(m.Name); err != nil {
		return err
	}
	if m.IdempotencyKey != "" {
		if err := validateID("idempotency_key", m.IdempotencyKey); err != nil {
			return err
		}
	}
	return ValidateText(m.Text)
}

// Validate checks a connection's room, user and name.
func (c *Connection) Validate() error {
	if err := ValidateRoomID(c.RoomID); err != nil {
		return err
	}
	if err := ValidateUserID(c.UserID); err != nil {
		return err
	}
	return ValidateName(c.Name)
}

// ValidateFilter checks a history request and fills in the default limit.
func (f *MessageFilter) Validate() error {
	if err := ValidateRoomID(f.RoomID); err != nil {
		return err
	}
	switch {
	case f.Before != "" && !ValidMessageID(f.Before), f.After != "" && !ValidMessageID(f.After):
		return Errorf(EINVALID, "cursor is not a message id")
	case f.Before != "" && f.After != "":
		return Errorf(EINVALID, "cursor and after cannot be combined")
	case f.Limit < 0 || f.Limit > MaxHistoryLimit:
		return Errorf(EINVALID, "limit must be between 1 and %d", MaxHistoryLimit)
	case f.MaxBytes < 0:
		return Errorf(EINVALID, "a page's byte budget cannot be negative")
	case f.Limit == 0:
		f.Limit = DefaultHistoryLimit
	}
	return nil
}
