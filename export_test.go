package chatapp

import "time"

// SetClock replaces the clock of NextMessageID until restore.
func SetClock(f func() time.Time) (restore func()) {
	old := clock
	clock = f
	return func() { clock = old }
}
