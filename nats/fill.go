// A node's periodic fill: rooms behind the store are read from it.

package nats

import (
	"context"
	"maps"
	"slices"
)

// LastIDReader reads the last message id stored in each of several rooms
// (those with none are left out), in one query.
type LastIDReader interface {
	RoomsLastIDs(ctx context.Context, rooms []string) (map[string]string, error)
}

// FillBehind compares the last message each room with members here has
// delivered with the room's last one in the store, and fills the rooms
// that are behind from the store. Called every few seconds, it delivers
// what no push will bring: a message committed by a node that died
// before publishing it, when no later message of the room breaks the
// chain. It returns how many rooms it filled.
func (n *Node) FillBehind(ctx context.Context, store LastIDReader) (int, error) {
	n.mu.Lock()
	rooms := slices.Collect(maps.Values(n.rooms))
	n.mu.Unlock()
	if len(rooms) == 0 {
		return 0, nil
	}
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.id
	}
	last, err := store.RoomsLastIDs(ctx, ids)
	if err != nil {
		return 0, err
	}
	filled := 0
	for _, r := range rooms {
		if id, ok := last[r.id]; ok && r.seq.behind(id) {
			filled++
			n.goWork(r.seq.sync)
		}
	}
	return filled, nil
}
