// Package logtest is what tests need of logs: a buffer that many
// goroutines write to, and the check that a recovered panic was logged
// with its stack.
package logtest

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer that goroutines may write to while a test reads
// it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Take returns what was written since the last Take.
func (b *Buffer) Take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// PanicLogged reports whether logs (slog's text format) hold an error line
// of a panic recovered at where, with a stack through fn.
func PanicLogged(logs, where, fn string) bool {
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, "where="+where) && strings.Contains(line, "goroutine") && strings.Contains(line, fn) {
			return true
		}
	}
	return false
}
