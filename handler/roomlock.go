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
// room's lock, so turn order is id order. Once committed, it hands its push
// to its turn (turn.push), and one send at a time, the leader, runs the
// pushes that are ready in turn order, its own and those of the sends
// behind it, in one round: the sends a group commit woke together are
// pushed back to back by one goroutine, not each after a wake-up of its
// own. Their frames then reach each socket's queue together and go out in
// one write (hub.writer), which is what a busy room's fan-out costs: one
// write per socket per round, not per message.
type roomLocks struct {
	mu    sync.Mutex
	rooms map[string]*roomLock
}

type roomLock struct {
	sync.Mutex
	users int // turns held; the entry is freed at zero

	issued  uint64              // turns handed out
	pushed  uint64              // turns done: turn pushed is the next to push
	ready   map[uint64]*pending // turns handed over, from pushed on
	leading bool                // a send runs a round of pushes
}

// pending is a turn handed over: its send to push, in the round of
// whoever leads when its turn comes.
type pending struct {
	send *roundSend               // nil: the send has nothing to push
	run  func(sends []*roundSend) // pushes a round: its send's (every send of a handler gives the same)
	wake chan struct{}
	lead bool // woken to lead, not because it was pushed
	// panicked is what its round's push panicked with, raised again in
	// the send's own goroutine.
	panicked any
}

// maxRound bounds the pushes one leader runs for the sends behind it; the
// next ready send leads the rest, so no send's answer waits on an endless
// stream of others.
const maxRound = 256

// turn is one send's place in its room's order. A send takes it, queues
// its message for commit, and calls queued; then it calls push once, and
// settle in any case (deferred) to hand the turn on.
type turn struct {
	rooms  *roomLocks
	room   string
	lock   *roomLock
	n      uint64
	handed bool // push was called
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

// push hands s over to be pushed once every send that took a turn before
// this one has pushed, and returns when it has been: by run, called with
// a round of the room's ready sends in turn order, on this goroutine or on
// another send's (the leader's). A panic of run is raised here. A nil s
// only hands the turn on, without waiting for the sends before it.
func (t *turn) push(s *roundSend, run func([]*roundSend)) {
	t.handed = true
	p := &pending{send: s, run: run}
	if s != nil {
		p.wake = make(chan struct{}, 1)
	}
	rl := t.lock
	rl.Lock()
	if rl.ready == nil {
		rl.ready = make(map[uint64]*pending)
	}
	rl.ready[t.n] = p
	if rl.leading || rl.pushed != t.n {
		rl.Unlock()
		if s == nil {
			t.rooms.release(t.room, rl) // the leader skips it when it comes
			return
		}
		<-p.wake
		if !p.lead {
			t.rooms.release(t.room, rl)
			if p.panicked != nil {
				panic(p.panicked)
			}
			return
		}
		rl.Lock()
	}
	rl.leading = true
	t.lead(p)
}

// lead runs rounds: the ready sends from the room's next turn on, in turn
// order, pushed by one call of their run; then it wakes their sends and
// hands the lead to the next ready send, if any. It leads on past a send
// with nothing to push (that one does not wait), and a leader with
// nothing to push of its own leads the sends behind it all the same. The
// room's lock is held on entry and released on return.
func (t *turn) lead(self *pending) {
	rl := t.lock
	for {
		var round []*pending
		for n := rl.pushed; len(round) < maxRound; n++ {
			p := rl.ready[n]
			if p == nil {
				break
			}
			delete(rl.ready, n)
			round = append(round, p)
		}
		rl.Unlock()
		runRound(round)
		rl.Lock()
		rl.pushed += uint64(len(round))
		next := rl.ready[rl.pushed]
		leadOn := next != nil && next.send == nil
		switch {
		case leadOn:
		case next != nil:
			next.lead = true
		default:
			rl.leading = false
		}
		rl.Unlock()
		for _, p := range round {
			if p != self && p.wake != nil {
				p.wake <- struct{}{}
			}
		}
		if !leadOn {
			if next != nil {
				next.wake <- struct{}{}
			}
			break
		}
		rl.Lock()
	}
	t.rooms.release(t.room, rl)
	if self.panicked != nil {
		panic(self.panicked)
	}
}

// runRound pushes the round's sends by the run of the first, and gives a
// panic of it to each of them.
func runRound(round []*pending) {
	sends := make([]*roundSend, 0, len(round))
	var run func([]*roundSend)
	for _, p := range round {
		if p.send != nil {
			sends = append(sends, p.send)
			if run == nil {
				run = p.run
			}
		}
	}
	if len(sends) == 0 {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			for _, p := range round {
				p.panicked = v
			}
		}
	}()
	run(sends)
}

// settle hands the turn on if push was not called: a send that ended
// early (its store failed or panicked) must not hold up the sends behind
// it, nor let them push before the sends ahead of it.
func (t *turn) settle() {
	if !t.handed {
		t.push(nil, nil)
	}
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
