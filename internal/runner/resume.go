package runner

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/seedbox"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/verdict"
)

// Resume finishes every probe a previous run left unfinished. Each keeps being
// watched until its own deadline and ends found, missing, or failed; none is
// sent again, and none is counted twice (the store refuses a second final state).
// A probe whose seed is no longer configured, or cannot be watched, ends as an
// error saying so. Resume returns when every unfinished probe is final, or when
// ctx ends (the rest stay for the next start).
func (r *Runner) Resume(ctx context.Context, cfg *config.Config) error {
	st := context.WithoutCancel(ctx)
	probes, err := r.Store.Unfinished(st)
	if err != nil {
		return err
	}
	if len(probes) == 0 {
		return nil
	}
	log := r.Log.With("resume", len(probes))
	log.Info("resuming unfinished probes")

	bySeed := map[string][]store.Probe{}
	for _, p := range probes {
		if cfg.Seeds[p.Seed] == nil {
			if err := r.Store.Finish(st, p.ID, store.StateError, string(verdict.Error),
				fmt.Sprintf("seed %q is no longer in the configuration; the probe cannot be looked for", p.Seed), r.now()); err != nil {
				return err
			}
			continue
		}
		bySeed[p.Seed] = append(bySeed[p.Seed], p)
	}
	seeds := make([]string, 0, len(bySeed))
	for s := range bySeed {
		seeds = append(seeds, s)
	}
	sort.Strings(seeds)
	watchers := r.watchAll(ctx, cfg, seeds, log)
	found := make(chan seedbox.Found, len(probes))
	var jobs []*job
	for _, name := range seeds {
		sw := watchers[name]
		for _, p := range bySeed[name] {
			if sw.w == nil {
				if err := r.Store.Finish(st, p.ID, store.StateError, string(verdict.Error),
					"after a restart the seed could not be watched: "+sw.err.Error(), r.now()); err != nil {
					return err
				}
				continue
			}
			// Latency from the stored start: the monotonic reading died with
			// the process, so a resumed probe is timed on the wall clock.
			start := p.Submission.StartedAt
			if start.IsZero() {
				start = p.CreatedAt
			}
			sw.w.Expect(found, p.Token)
			jobs = append(jobs, &job{seed: cfg.Seeds[name], probe: p, submitStart: start, watcher: sw.w, sink: found})
		}
	}
	look := r.ResumeLook
	if look <= 0 {
		look = 10 * time.Second
	}
	return r.collect(ctx, jobs, found, look, log)
}
