package client

import (
	"fmt"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Kind tells what an Event reports.
type Kind int

const (
	// KindMessage is a chat message of the room: Message is set.
	KindMessage Kind = iota + 1
	// KindJoin is a connection entering the room: Presence is set. Only
	// with Config.Presence.
	KindJoin
	// KindLeave is a connection leaving the room: Presence is set. Only
	// with Config.Presence.
	KindLeave
	// KindConnected reports that the WebSocket is open and the history
	// missed while disconnected has been read; the missed messages follow
	// it. Attempt is the number of reconnection attempts it took, counted
	// from the last connection that stayed up 5 s (0 for the connection
	// made by Dial).
	KindConnected
	// KindReconnecting reports that the connection is down and attempt
	// Attempt will be made after Delay. Err tells why the previous
	// connection or attempt ended. A connection that lasted less than 5 s
	// counts as a failed attempt: the next one is not attempt 1, and
	// waits longer.
	KindReconnecting
	// KindError is an error the server sent on the socket, for one of this
	// client's frames (SendWS); Err is an *Error. The connection stays open.
	KindError
	// KindClosed reports that the client stopped: a reconnection was
	// refused with a 4xx that no retry can change (the token expired, the
	// room is no longer allowed, the user is over the connection quota;
	// not 408 or 429). Err is the *Error. Events is closed after it; Close
	// still frees the client.
	KindClosed
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindJoin:
		return "join"
	case KindLeave:
		return "leave"
	case KindConnected:
		return "connected"
	case KindReconnecting:
		return "reconnecting"
	case KindError:
		return "error"
	case KindClosed:
		return "closed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Event is one thing that happened to the client, as delivered by Events.
type Event struct {
	Kind     Kind
	Message  *chatapp.Message       // KindMessage
	Presence *chatapp.PresenceEvent // KindJoin, KindLeave
	Err      error                  // KindReconnecting (the cause), KindError, KindClosed
	Attempt  int                    // KindReconnecting, KindConnected
	Delay    time.Duration          // KindReconnecting: the wait before the attempt
}

func (e Event) String() string {
	switch e.Kind {
	case KindMessage:
		return fmt.Sprintf("message %s from %s: %q", e.Message.ID, e.Message.UserID, e.Message.Text)
	case KindJoin, KindLeave:
		return fmt.Sprintf("%s %s (%s)", e.Kind, e.Presence.UserID, e.Presence.ConnectionID)
	case KindConnected:
		return fmt.Sprintf("connected (attempt %d)", e.Attempt)
	case KindReconnecting:
		return fmt.Sprintf("reconnecting (attempt %d in %v): %v", e.Attempt, e.Delay, e.Err)
	case KindError:
		return fmt.Sprintf("error: %v", e.Err)
	case KindClosed:
		return fmt.Sprintf("closed: %v", e.Err)
	}
	return e.Kind.String()
}
