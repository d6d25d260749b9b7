package main

import (
	"context"
	"log/slog"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/web"
)

// serveWeb starts the [web] listener of `mailflow run` when it is not off:
// it sets the metrics from the store, listens (an address it cannot have is
// an error) and serves until ctx ends. It returns the hook that feeds each
// finished round to the metrics (nil when off) and a function that waits for
// the server to stop, to call before the store closes. alerts may be nil.
func serveWeb(ctx context.Context, cfg *config.Config, db *store.DB, log *slog.Logger, alerts web.AlertsFunc) (observe func(context.Context, runner.Round), wait func(), err error) {
	if cfg.Web.Listen == "" {
		return nil, func() {}, nil
	}
	srv := web.New(web.Options{Store: db, Config: cfg, Log: log, Alerts: alerts})
	if err := srv.Load(ctx); err != nil {
		log.Warn("metrics start empty", "err", err)
	}
	ln, err := srv.Listen()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("web listener stopped", "err", err)
		}
	}()
	return func(_ context.Context, r runner.Round) { srv.ObserveRound(r) }, func() { <-done }, nil
}
