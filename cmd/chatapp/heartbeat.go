// A node's heartbeat: its row in the nodes table, written every few
// seconds, and on each beat the cluster's chores that need no broker:
// the rows of dead nodes swept, this node's own rows written back if it
// was taken for dead, and the rooms behind the store filled.

package main

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/nats"
)

// DefaultHeartbeat is how often a node writes its row in the nodes table.
// A node not seen for deadBeats of them and the sweep's grace is dead.
const (
	DefaultHeartbeat = 2 * time.Second
	deadBeats        = 3
)

// nodeStore is what a node's heartbeat needs of the cluster's store
// (postgres.DB).
type nodeStore interface {
	hub.SweepStore
	nats.LastIDReader
	ClaimNode(ctx context.Context, tag string) (bool, error)
	TouchNode(ctx context.Context, tag string, within time.Duration) (lapsed bool, err error)
	RemoveNode(ctx context.Context, tag string) error
	Nodes(ctx context.Context, grace time.Duration) (live, dead []string, err error)
	NodeAlive(ctx context.Context, tag string, within time.Duration) (bool, error)
	RestoreConnections(ctx context.Context, conns []*chatapp.Connection) ([]*chatapp.Connection, error)
	ListConnectionsOfTags(ctx context.Context, tags []string) ([]*chatapp.Connection, error)
	ConnectionTags(ctx context.Context, tagLen int) ([]string, error)
	InsertDeadNodes(ctx context.Context, tags []string) error
	SweepDeadNodes(ctx context.Context, tags []string, within time.Duration) ([]*chatapp.Connection, error)
}

// heartbeat beats for one node until Close, which removes the node's row:
// a node that stops cleanly is not taken for dead.
type heartbeat struct {
	node      *nats.Node
	hub       *hub.Hub // this node's live connections, whose rows it writes back
	db        nodeStore
	announcer chatapp.Notifier
	every     time.Duration
	grace     time.Duration // a connection row's, from --sweep-grace
	logger    *slog.Logger
	cancel    context.CancelFunc
	done      chan struct{}

	// Written by run's goroutine alone.
	beatingSince   time.Time // since when every beat reached the store; zero after one failed
	restorePending bool      // this node's rows are to be written back (restoreOwnRows)
}

// deadAfter is how long a node's row may go unwritten before the others
// take it for dead (by the database's clock).
func deadAfter(every, grace time.Duration) time.Duration {
	return cmp.Or(every, DefaultHeartbeat)*deadBeats + cmp.Or(grace, hub.DefaultSweepGrace)
}

// startHeartbeat starts the node's heartbeat; the node's row was written
// when it claimed its tag.
func (s *Server) startHeartbeat(cfg ServeConfig, db nodeStore, announcer chatapp.Notifier) *heartbeat {
	ctx, cancel := context.WithCancel(context.Background())
	hb := &heartbeat{
		node: s.node, hub: s.hub, db: db, announcer: announcer,
		every:  cmp.Or(cfg.Heartbeat, DefaultHeartbeat),
		grace:  cmp.Or(cfg.SweepGrace, hub.DefaultSweepGrace),
		logger: cfg.Logger, cancel: cancel, done: make(chan struct{}),
	}
	go hb.run(ctx)
	return hb
}

func (hb *heartbeat) run(ctx context.Context) {
	defer close(hb.done)
	ticker := time.NewTicker(hb.every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		hb.beat(ctx)
	}
}

// beat writes the node's row, writes its connections' rows back if it
// was taken for dead, sweeps the dead nodes' rows and fills the rooms
// whose last message this node has not delivered.
func (hb *heartbeat) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, hb.every*deadBeats)
	defer cancel()
	dead := deadAfter(hb.every, hb.grace)
	lapsed, err := hb.db.TouchNode(ctx, hb.node.Tag(), dead)
	switch {
	case err != nil:
		hb.beatingSince = time.Time{}
		if ctx.Err() == nil {
			hb.logger.Warn("writing this node's heartbeat failed", "err", err)
		}
	case lapsed:
		// This node was cut off (paused, or out of the database's reach)
		// for as long as the others take for dead: they may have swept
		// its rows. A sweep that did has committed by now (it deleted
		// this node's row, whose lock this beat waited for), and no
		// other deletes them while the row is fresh: one write suffices
		// (postgres/sweep.go).
		hb.logger.Warn("this node's heartbeat had lapsed: writing back the rows of its connections")
		hb.beatingSince = time.Now()
		hb.restorePending = true
	case hb.beatingSince.IsZero():
		hb.beatingSince = time.Now()
	}
	if err == nil && hb.restorePending {
		restored, err := hb.restoreOwnRows(ctx)
		hb.restorePending = err != nil
		if err != nil && ctx.Err() == nil {
			hb.logger.Warn("writing back this node's connection rows failed", "restored", restored, "err", err)
		} else if restored > 0 {
			hb.logger.Info("wrote back the rows of this node's connections that others swept", "restored", restored)
		}
	}
	// A node judges others dead only from beats it could write itself
	// all along: after an outage of the database every row is stale, the
	// live nodes' too, until each has beaten again.
	if err == nil && time.Since(hb.beatingSince) >= dead {
		if removed, err := hb.sweepDeadNodes(ctx); err != nil && ctx.Err() == nil {
			hb.logger.Warn("sweeping the rows of dead nodes failed", "removed", removed, "err", err)
		} else if removed > 0 {
			hb.logger.Info("removed the connections of dead nodes", "removed", removed)
		}
	}
	if _, err := hb.node.FillBehind(ctx, hb.db); err != nil && ctx.Err() == nil {
		hb.logger.Warn("reading the rooms' last messages failed", "err", err)
	}
}

// restoreOwnRows writes back the rows of this node's open connections
// that are missing from the store (swept by a node that took this one
// for dead), and announces each one's join, once: the room heard a leave
// for a member who never left. A connection whose socket closed
// meanwhile loses the row again, silently: its room heard its leave.
func (hb *heartbeat) restoreOwnRows(ctx context.Context) (int, error) {
	open := hb.hub.JoinedConnections()
	if len(open) == 0 {
		return 0, nil
	}
	written, err := hb.db.RestoreConnections(ctx, open)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, c := range written {
		if hb.hub.Member(c.ID) == nil { // its $disconnect may have run before the write
			if _, err := hb.db.DeleteConnection(ctx, c.ID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		errs = append(errs, chatapp.AnnouncePresence(ctx, hb.announcer, chatapp.PresenceJoin, c, time.Now()))
	}
	return len(written), errors.Join(errs...)
}

// sweepDeadNodes removes the rows of the nodes not seen for deadBeats
// heartbeats and the grace, with all their connection rows, in one
// statement that deletes only the nodes it still finds unseen (a node
// that beat since it was read dead keeps its rows: postgres/sweep.go),
// and announces the leave of each connection row that statement
// deleted: of the nodes sweeping at once, the one whose delete got the
// row back. A restarted node has a new tag: its old one's rows go this
// way too. A tag that holds rows but has no node row (its node stopped
// while a $disconnect failed) is first given one, dead. It reads the
// tags (an index search each) and those nodes' rows alone, never the
// whole table.
func (hb *heartbeat) sweepDeadNodes(ctx context.Context) (int, error) {
	within := deadAfter(hb.every, hb.grace)
	live, dead, err := hb.db.Nodes(ctx, within)
	if err != nil {
		return 0, err
	}
	held, err := hb.db.ConnectionTags(ctx, nats.TagLen)
	if err != nil {
		return 0, err
	}
	orphans := slices.DeleteFunc(held, func(tag string) bool {
		return !nats.IsTag(tag) || slices.Contains(live, tag) || slices.Contains(dead, tag)
	})
	if err := hb.db.InsertDeadNodes(ctx, orphans); err != nil {
		return 0, err
	}
	swept := slices.DeleteFunc(append(dead, orphans...), func(tag string) bool { return tag == hb.node.Tag() })
	gone, err := hb.db.SweepDeadNodes(ctx, swept, within)
	if err != nil {
		return 0, err
	}
	// The rows are gone: their leaves are owed even if the beat's context
	// ends (the node closing: Close waits for this beat), within a budget
	// of their own, deadBeats beats. A broker down fails them all: one
	// line in the log, not one a row.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hb.every*deadBeats)
	defer cancel()
	now := time.Now()
	failed, first := 0, error(nil)
	for _, c := range gone {
		if err := chatapp.AnnouncePresence(ctx, hb.announcer, chatapp.PresenceLeave, c, now); err != nil {
			failed, first = failed+1, cmp.Or(first, err)
		}
	}
	if failed > 0 {
		hb.logger.Warn("announcing the leaves of swept connections failed", "failed", failed, "of", len(gone), "first_err", first)
	}
	return len(gone), nil
}

// Close stops the heartbeat and removes the node's row. Call it once the
// node's connections are closed, before the store.
func (hb *heartbeat) Close() error {
	hb.cancel()
	<-hb.done
	ctx, cancel := context.WithTimeout(context.Background(), hb.every*deadBeats)
	defer cancel()
	return hb.db.RemoveNode(ctx, hb.node.Tag())
}
