// the node's held-bytes budget under concurrent offers, failed
// reads and rooms closing mid-sync.

package nats

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/budget"
)

// TestHeldBytesNeverLeaks: 8 rooms share a small budget; pushes come
// shuffled, twice, some lost, from several goroutines, while the store
// fails now and then; half the rooms close while their syncs run. The
// budget never passes its limit nor goes below 0, and once every room is
// closed it is 0 again.
func TestHeldBytesNeverLeaks(t *testing.T) {
	const rooms, each = 8, 300
	pushBytes := held{id: leastID, data: []byte(leastID)}.size(leastID)
	budget := &budget.Bytes{Limit: 50 * pushBytes}
	var seqs []*sequencer
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // the budget's bounds, watched throughout
		for {
			select {
			case <-stop:
				return
			default:
			}
			if u := budget.Held(); u < 0 || u > budget.Limit {
				t.Errorf("the budget's count is %d, outside [0, %d]", u, budget.Limit)
				return
			}
		}
	}()
	for r := range rooms {
		h := &history{}
		s, _ := newTestSequencer(t, h, time.Millisecond)
		s.budget = budget
		s.sync()
		seqs = append(seqs, s)
		ms := h.commit(each)
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := rand.Perm(len(ms))
				for i, j := range order {
					if j%17 == g { // lost on the way
						continue
					}
					offer(s, ms[j])
					if i%40 == 0 {
						h.mu.Lock()
						h.failures++
						h.mu.Unlock()
					}
				}
			}()
		}
		if r%2 == 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
				s.close()
			}()
		}
	}
	wg.Wait()
	for _, s := range seqs {
		s.close()
	}
	close(stop)
	if u := budget.Held(); u != 0 {
		t.Errorf("every room closed, and the budget still counts %d bytes held", u)
	}
}
