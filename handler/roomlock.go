package handler

import "sync"

// roomLocks serializes the sends of one room inside a process, from the
// store's commit to the push, so that the connections a process serves get a
// room's messages in stored (id) order. Without it two concurrent sends could
// commit in one order and push in the other. Sends to different rooms do not
// wait for each other. On Lambda an instance runs one invocation at a time,
// so this costs nothing there; across instances, order is the history's.
type roomLocks struct {
	mu    sync.Mutex
	rooms map[string]*roomLock
}

type roomLock struct {
	sync.Mutex
	waiters int // holders and waiters; the entry is freed at zero
}

// lock locks the room and returns its unlock.
func (l *roomLocks) lock(room string) (unlock func()) {
	l.mu.Lock()
	if l.rooms == nil {
		l.rooms = make(map[string]*roomLock)
	}
	rl := l.rooms[room]
	if rl == nil {
		rl = &roomLock{}
		l.rooms[room] = rl
	}
	rl.waiters++
	l.mu.Unlock()

	rl.Lock()
	return func() {
		rl.Unlock()
		l.mu.Lock()
		if rl.waiters--; rl.waiters == 0 {
			delete(l.rooms, room)
		}
		l.mu.Unlock()
	}
}
