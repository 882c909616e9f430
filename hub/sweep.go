// The sweeper: connection rows whose socket is gone (after a crash)
// are removed, and their leaves announced.

package hub

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Defaults of the stale connection sweeper.
const (
	DefaultSweepInterval = time.Minute
	// DefaultSweepGrace spares rows younger than this. It is longer than
	// a $connect integration may run (29 s), so no row of a handshake in
	// flight is swept even if its socket were not tracked yet.
	DefaultSweepGrace = time.Minute
)

// SweepStore is a connection store that the sweeper can list.
type SweepStore interface {
	chatapp.ConnectionLister
	DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error)
}

// SweepConnections deletes the rows of store whose connection has no open
// socket in this hub and that were connected more than grace ago:
// rows whose $disconnect never ran, left by a crash, a SIGKILL or an
// earlier run on the same tables. It returns how many it deleted. Each
// row it removes is removed as $disconnect removes one
// (chatapp.RemoveConnection): its room hears the leave through n, the
// notifier that reaches the room's sockets.
//
// The hub tracks a socket from before its $connect runs until after its
// $disconnect has run, a closing socket included, so a row of a live
// connection is never swept, nor one whose $disconnect is still to come. A
// gateway must not sweep tables another running gateway also uses: that
// one's rows have no socket here.
func (h *Hub) SweepConnections(ctx context.Context, store SweepStore, n chatapp.Notifier, grace time.Duration) (int, error) {
	conns, err := store.ListConnections(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-grace).UnixMilli()
	stale := slices.DeleteFunc(conns, func(c *chatapp.Connection) bool { return c.Timestamp > cutoff || h.isOpen(c.ID) })
	return removeRows(ctx, store, n, stale, h.logger)
}

// removeRows removes each of rows as $disconnect removes one
// (chatapp.RemoveConnection: of several removing one row at once, the one
// whose delete got it back announces its leave, once). A leave that could
// not be announced is logged. It returns how many rows it deleted, and
// the errors of those it could not.
func removeRows(ctx context.Context, store chatapp.ConnectionDeleter, n chatapp.Notifier, rows []*chatapp.Connection, logger *slog.Logger) (removed int, err error) {
	var errs []error
	for _, c := range rows {
		gone, err := chatapp.RemoveConnection(ctx, store, n, c.ID, time.Now())
		if gone == nil && err != nil {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			logger.Warn("announcing the leave of a swept connection failed", "connection_id", c.ID, "err", err)
		}
		if gone != nil {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// SweepConnectionsEvery runs SweepConnections every interval until ctx is
// done, logging what it removed and any failure.
func (h *Hub) SweepConnectionsEvery(ctx context.Context, store SweepStore, n chatapp.Notifier, interval, grace time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		removed, err := h.SweepConnections(ctx, store, n, grace)
		if err != nil && ctx.Err() == nil {
			h.logger.Warn("sweeping stale connections failed", "removed", removed, "err", err)
		} else if removed > 0 {
			h.logger.Info("removed stale connections", "removed", removed)
		}
	}
}

// isOpen tells whether the hub holds a client of that connection id, open
// or closing with its $disconnect still to run.
func (h *Hub) isOpen(id string) bool { return h.client(id) != nil }
