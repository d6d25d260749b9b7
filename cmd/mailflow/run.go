package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/schedule"
	"github.com/mailflow/mailflow/internal/store"
)

// runCmd is the daemon: it finishes what a previous run left, then runs every
// check with a schedule until SIGINT or SIGTERM.
func runCmd(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, log, code, ok := commonFlags(flags("run", stderr), "info", true).start(args, stderr)
	if !ok {
		return code
	}
	db, err := openStore(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow run: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	r := &runner.Runner{Store: db, Log: log, Tokens: oauth.NewTokens(cfg, oauth.Options{Log: log})}
	defer r.Close()
	notifiers, err := alert.Notifiers(cfg, r.SubmitPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow run: %v\n", err)
		return exitFailed
	}
	alerts := &alert.Engine{Store: db, Config: cfg, Notifiers: notifiers, Log: log}
	var observe func(context.Context, runner.Round) // the metrics', when served
	jobs, err := scheduledJobs(cfg, r, log, func(ctx context.Context, round runner.Round) {
		// Rules are judged as soon as a round ends; delivery is Run's, so a
		// slow notifier never delays the next round.
		if err := alerts.Evaluate(context.WithoutCancel(ctx), cfg.Checks[round.Check]); err != nil {
			log.Error("alert evaluation failed", "check", round.Check, "err", err)
		}
		if observe != nil {
			observe(ctx, round)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "mailflow run: %v\n", err)
		return exitFailed
	}
	observe, waitWeb, err := serveWeb(ctx, cfg, db, log, alerts.States)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow run: %v\n", err)
		return exitFailed
	}
	defer waitWeb() // before the store closes
	log.Info("mailflow started", "config", cfg.File, "store", db.Path(), "checks", len(jobs))

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Resume(ctx, cfg); err != nil {
			log.Error("resume failed", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		housekeep(ctx, r, cfg)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		alerts.Run(ctx)
	}()
	s := &schedule.Scheduler{Clock: schedule.RealClock{}, Log: log}
	s.Start(ctx, jobs)
	<-ctx.Done()
	log.Info("stopping: no new rounds; sends in flight finish, waiting probes stay for the next start")
	s.Wait()
	wg.Wait()
	log.Info("mailflow stopped")
	return exitOK
}

// housekeep runs housekeeping at start and every interval until ctx ends.
func housekeep(ctx context.Context, r *runner.Runner, cfg *config.Config) {
	if cfg.Housekeeping.Interval <= 0 {
		return
	}
	t := time.NewTicker(cfg.Housekeeping.Interval)
	defer t.Stop()
	for {
		if err := r.Housekeep(ctx, cfg); err != nil && ctx.Err() == nil {
			r.Log.Warn("housekeeping incomplete", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scheduledJobs makes a job of every check that has a schedule; after is
// called with each round that finished.
func scheduledJobs(cfg *config.Config, r *runner.Runner, log *slog.Logger, after func(context.Context, runner.Round)) ([]schedule.Job, error) {
	var jobs []schedule.Job
	var unscheduled []string
	for _, c := range cfg.Checks {
		if c.Schedule == "" {
			unscheduled = append(unscheduled, c.Name)
			continue
		}
		sched, err := schedule.Parse(c.Schedule)
		if err != nil {
			return nil, fmt.Errorf("checks.%s.schedule: %w", c.Name, err)
		}
		jobs = append(jobs, schedule.Job{Name: c.Name, Schedule: sched, Jitter: c.Jitter, Run: func(ctx context.Context) {
			round, err := r.Run(ctx, cfg, c)
			if err != nil {
				log.Error("round failed", "check", c.Name, "err", err)
				return
			}
			after(ctx, round)
		}})
	}
	sort.Strings(unscheduled)
	if len(unscheduled) > 0 {
		log.Info("checks without a schedule run only with mailflow probe", "checks", strings.Join(unscheduled, ","))
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("%s: no check has a schedule (add schedule = \"@every 5m\" to a [checks.NAME])", cfg.File)
	}
	return jobs, nil
}

// openStore opens the configured database, creating its directory.
func openStore(cfg *config.Config) (*store.DB, error) {
	if dir := filepath.Dir(cfg.Store.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
	}
	return store.Open(cfg.Store.Path)
}
