package main

import (
	"context"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
)

// startSweeper deletes the connection rows that have no socket in this
// process's hub (left by a crash, or by an earlier run on the same DynamoDB
// tables) once now, then every cfg.SweepInterval until stopSweeper.
// $disconnect is best-effort; on AWS the table's TTL does this instead.
// The room of each row removed hears its leave through announcer. A node
// of a cluster sweeps only its own rows (ownRows).
func (s *Server) startSweeper(ctx context.Context, cfg ServeConfig, store hub.SweepStore, announcer chatapp.Notifier) {
	s.stopSweeper = func() {}
	if cfg.Store == "dynamodb" && cfg.DynamoDB.Endpoint == "" {
		// Tables on AWS may be a deployed stage's, whose live connections
		// have no socket here: leave their rows to the TTL.
		cfg.Logger.Info("not sweeping stale connections: the DynamoDB tables are on AWS, where TTL expires them")
		return
	}
	if s.node != nil {
		store = ownRows{store.(nodeStore), s.node.Tag()}
	}
	interval, grace := cfg.SweepInterval, cfg.SweepGrace
	if interval <= 0 {
		interval = hub.DefaultSweepInterval
	}
	if grace <= 0 {
		grace = hub.DefaultSweepGrace
	}
	if n, err := s.hub.SweepConnections(ctx, store, announcer, grace); err != nil {
		cfg.Logger.Warn("sweeping stale connections failed", "err", err)
	} else if n > 0 {
		cfg.Logger.Info("removed stale connections", "removed", n)
	}
	sweepCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.hub.SweepConnectionsEvery(sweepCtx, store, announcer, interval, grace)
	}()
	s.stopSweeper = func() { cancel(); <-done }
}
