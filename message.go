package chatapp

// Message is one chat message. Its JSON form is the push frame and the
// history entry of the original system, plus an id: the original client
// routes frames by "command" and "index", so a Message must never carry those.
type Message struct {
	// ID is unique and sorts in time order (a ULID). The original keyed
	// messages by (room, millisecond) and lost one of two sent in the same
	// millisecond; the id makes every message its own key.
	ID        string `json:"id"`
	RoomID    string `json:"room_id"`
	Timestamp int64  `json:"timestamp"` // epoch milliseconds
	Text      string `json:"message"`
	UserID    string `json:"user_id"`
	Name      string `json:"name"`

	// IdempotencyKey, when a client gives one, makes a retried send store
	// and deliver once: a second message with the same room, user and key
	// is not stored, and CreateMessage returns the first with ErrDuplicate.
	// The original client retried a PUT up to ten times.
	IdempotencyKey string `json:"-"`

	// PrevID is the id of the message stored in the room just before this
	// one, set by a store that orders a room's messages in commit order
	// (postgres) when it commits m: "" for a room's first. Nodes of a
	// cluster deliver a room's messages in that chain and fill a break in
	// it from the store. Other stores leave it empty, and pages never
	// carry it: only the answer to the writer does.
	PrevID string `json:"-"`
}

// DefaultHistoryLimit is the page size when a client names none: the original
// client expects the recent history in one response.
const DefaultHistoryLimit = 100

// MaxHistoryLimit bounds one page, so that no request reads a room whole.
const MaxHistoryLimit = 1000

// MessageFilter selects one page of a room's history. Before and After are
// message ids (exclusive); with neither, the page is the latest messages.
type MessageFilter struct {
	RoomID string
	Before string // older than this id, newest first
	After  string // newer than this id, oldest first
	Limit  int
	// MaxBytes, when above 0, bounds the page in bytes as Limit bounds it in
	// count: the sum of its messages' StoredSize. A store stops reading rows
	// once the next would pass it and reports More, as for a page cut at
	// Limit, so that a request for 1000 messages of 16 KiB loads MaxBytes,
	// not 16 MB. The page keeps the messages read first (the newest of a
	// latest or Before page, the oldest of an After page), and always holds
	// one message when there is one, however large, so that a walk moves on.
	MaxBytes int
}

// Takes tells whether a page that holds n messages of used bytes (their
// StoredSize) takes one more of size bytes under f's limits. A store calls
// it for each row in the order it reads them and stops at the first it
// refuses: that row proves More.
func (f *MessageFilter) Takes(n, used, size int) bool {
	switch {
	case n >= f.Limit:
		return false
	case n == 0 || f.MaxBytes <= 0:
		return true
	}
	return used+size <= f.MaxBytes
}

// StoredSize is what a message weighs in a page's MaxBytes: the bytes of
// its text, name and ids, what a store holds in memory for it beyond a
// fixed overhead. A message's JSON holds each of these strings, escaped
// (never shorter), so its encoded size is never below StoredSize.
func (m *Message) StoredSize() int {
	return len(m.ID) + len(m.RoomID) + len(m.UserID) + len(m.Name) + len(m.Text)
}

// MessagePage is one page of history, always oldest first.
type MessagePage struct {
	Messages []*Message
	// More tells that messages beyond the page exist in the direction read:
	// older ones for a latest or Before page, newer ones for an After page.
	More bool
}

// Replay answers a send m whose idempotency key its room and user already
// used for stored: a retry of the same text is filled with stored and gets
// ErrDuplicate; another text under the same key is a client bug that must
// not pass for a success (the text it sent was never stored), so it gets
// ECONFLICT and m is not filled. Room and user are part of the key.
func Replay(m, stored *Message) error {
	if m.Text != stored.Text {
		return Errorf(ECONFLICT, "idempotency key %q was used for another message", m.IdempotencyKey)
	}
	key := m.IdempotencyKey
	*m = *stored
	m.IdempotencyKey = key
	return ErrDuplicate
}
