// The time bound of a message that has begun: a client that sends part
// of one and stops is closed.

package hub

import (
	"errors"
	"os"
	"time"
)

// A message that has begun must end in time: a client that sends part of
// a message and then nothing would otherwise make the server hold what it
// sent (up to 128 KB) and a read buffer until the idle timeout, 10
// minutes. The bound costs nothing to a frame that arrives whole within
// one read (up to 16 KB), the common case: the connection's read deadline
// is set only when the reader must wait for bytes of a message it has
// begun, and cleared when the message ends.
//
// What it does not cover: a client that sends the first bytes of a
// frame's header and stops makes the read buffer (16 KB) wait with the
// read of the rest, until the idle timeout; telling that wait from the
// one of every small frame would cost a read or a deadline per frame.

// errSlowMessage ends a connection whose message did not arrive within
// Limits.MessageTimeout.
var errSlowMessage = errors.New("message not completed in time")

// messageWait arms a connection's read deadline for the message being
// read; its zero value (no writer) arms none.
type messageWait struct {
	writer  *writer     // owns the connection's deadlines
	lazy    *lazyReader // what has arrived and is not read yet
	timeout time.Duration
	armed   bool
}

// expect is called before reading n bytes of a message: if fewer have
// arrived, the reader will wait for them, and the message's deadline is
// set, once a message.
func (w *messageWait) expect(n int64) {
	if w.writer == nil || w.armed || int64(w.lazy.buffered()) >= n {
		return
	}
	w.armed = true
	w.writer.setReadDeadline(time.Now().Add(w.timeout))
}

// done is called once no message is in progress: the deadline, if set, is
// cleared.
func (w *messageWait) done() {
	if !w.armed {
		return
	}
	w.armed = false
	w.writer.setReadDeadline(time.Time{})
}

// err is what a read error means: a message that missed its deadline, or
// the error itself.
func (w *messageWait) err(err error) error {
	if w.armed && errors.Is(err, os.ErrDeadlineExceeded) {
		return errSlowMessage
	}
	return err
}
