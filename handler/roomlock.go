package handler

import "sync"

// roomLocks orders each room's sends inside a process, from the store's
// commit to the push, so that the connections a process serves get a room's
// messages in stored (id) order. Without it two concurrent sends could
// commit in one order and push in the other. Sends to different rooms do not
// wait for each other. On Lambda an instance runs one invocation at a time,
// so this costs nothing there; across instances, order is the history's.
//
// A send takes a ticket while it queues its message for commit, under the
// room's lock, so ticket order is id order; it pushes when the sends of the
// tickets before it have.
type roomLocks struct {
	mu    sync.Mutex
	rooms map[string]*roomLock
}

type roomLock struct {
	sync.Mutex
	users int // ticket holders; the entry is freed at zero

	turn   *sync.Cond // signalled when pushed moves
	issued uint64     // tickets handed out
	pushed uint64     // tickets done: ticket pushed may push next
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
		rl.turn = sync.NewCond(&rl.Mutex)
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

// ticket runs queue, which must queue the send for commit, under the room's
// lock, and returns the send's turn: waitTurn blocks until every send that
// queued before it in this room has called done, and done hands the turn on.
// done must be called exactly once, whatever happens.
func (l *roomLocks) ticket(room string, queue func()) (waitTurn, done func()) {
	rl := l.get(room)
	rl.Lock()
	t := rl.issued
	rl.issued++
	queue()
	rl.Unlock()
	waitTurn = func() {
		rl.Lock()
		for rl.pushed != t {
			rl.turn.Wait()
		}
		rl.Unlock()
	}
	done = func() {
		rl.Lock()
		rl.pushed++
		rl.turn.Broadcast()
		rl.Unlock()
		l.release(room, rl)
	}
	return waitTurn, done
}
