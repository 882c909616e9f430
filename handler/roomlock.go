package handler

import "sync"

// roomLocks orders each room's sends inside a process, from the store's
// commit to the push, so that the connections a process serves get a room's
// messages in stored (id) order. Without it two concurrent sends could
// commit in one order and push in the other. Sends to different rooms do not
// wait for each other. On Lambda an instance runs one invocation at a time,
// so this costs nothing there; across instances, order is the history's.
//
// A send takes a turn while it queues its message for commit, under the
// room's lock, so turn order is id order; it pushes when the sends of the
// turns before it have.
type roomLocks struct {
	mu    sync.Mutex
	rooms map[string]*roomLock
}

type roomLock struct {
	sync.Mutex
	users int // turns held; the entry is freed at zero

	moved  *sync.Cond // signalled when pushed moves
	issued uint64     // turns handed out
	pushed uint64     // turns done: turn pushed may push next
}

// turn is one send's place in its room's order. A send takes it, queues
// its message for commit, and calls queued; it waits for its turn before
// it pushes, and calls done once, whatever happens, to hand the turn on.
type turn struct {
	rooms *roomLocks
	room  string
	lock  *roomLock
	n     uint64
}

// take returns the next turn of room, holding the room's lock until
// queued: what the send queues meanwhile is queued in turn order.
func (l *roomLocks) take(room string) *turn {
	rl := l.get(room)
	rl.Lock()
	t := &turn{rooms: l, room: room, lock: rl, n: rl.issued}
	rl.issued++
	return t
}

// queued releases the room's lock once the send's message is queued.
func (t *turn) queued() { t.lock.Unlock() }

// wait blocks until every send that took a turn before this one in its
// room has called done.
func (t *turn) wait() {
	rl := t.lock
	rl.Lock()
	for rl.pushed != t.n {
		rl.moved.Wait()
	}
	rl.Unlock()
}

// done hands the turn on to the next send of the room, once the sends
// before it have: a send that ends early (its store failed, or panicked)
// must not let a later one push before an earlier one.
func (t *turn) done() {
	rl := t.lock
	rl.Lock()
	for rl.pushed != t.n {
		rl.moved.Wait()
	}
	rl.pushed++
	rl.moved.Broadcast()
	rl.Unlock()
	t.rooms.release(t.room, rl)
}

// get returns the room's entry, counted as used until release.
func (l *roomLocks) get(room string) *roomLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rooms == nil {
		l.rooms = make(map[string]*roomLock)
	}
	rl := l.rooms[room]
	if rl == nil {
		rl = &roomLock{}
		rl.moved = sync.NewCond(&rl.Mutex)
		l.rooms[room] = rl
	}
	rl.users++
	return rl
}

func (l *roomLocks) release(room string, rl *roomLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rl.users--; rl.users == 0 {
		delete(l.rooms, room)
	}
}
