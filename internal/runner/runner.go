// Package runner runs one round of a check end to end: it writes each probe to
// the store before sending it, submits it over its path, watches the seed's
// folders for it, judges what was found and stores every fact. It passes values
// between message, submit, seedbox, verdict and store, which do not know each other.
package runner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/seedbox"
	"github.com/mailflow/mailflow/internal/store"
)

// Runner runs rounds against one store.
type Runner struct {
	Store *store.DB
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Concurrency bounds the submissions in flight (default 4).
	Concurrency int
}

// Round is a finished round.
type Round struct {
	ID     int64
	Check  string
	Probes []store.Probe
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// job is one (path, seed) pair of a round and its stored probe.
type job struct {
	path  *config.Path
	seed  *config.Seed
	probe store.Probe
	// submitStart is the monotonic start of submission; latency counts from it.
	submitStart time.Time
	watcher     *seedbox.Watcher
}

// Run runs one round of check and returns its probes as stored. It returns an
// error only when the store fails; every probe outcome, including an SMTP or
// IMAP failure, is in the probes.
func (r *Runner) Run(ctx context.Context, cfg *config.Config, check *config.Check) (Round, error) {
	log := r.Log.With("check", check.Name)
	roundID, err := r.Store.StartRound(ctx, check.Name, r.now())
	if err != nil {
		return Round{}, err
	}
	log = log.With("round", roundID)
	log.Info("round started", "paths", len(check.Paths), "seeds", len(check.Seeds))

	watchers := r.watchAll(ctx, cfg, check, log)
	defer func() {
		for _, w := range watchers {
			if w.w != nil {
				w.w.Close()
			}
		}
	}()

	var jobs []*job
	for _, pname := range check.Paths {
		for _, sname := range check.Seeds {
			j, err := r.newJob(ctx, roundID, check, cfg.Paths[pname], cfg.Seeds[sname])
			if err != nil {
				return Round{}, err
			}
			jobs = append(jobs, j)
		}
	}
	if err := r.sendAll(ctx, cfg, check, jobs, watchers, log); err != nil {
		return Round{}, err
	}
	if err := r.collect(ctx, check, jobs, watchers, log); err != nil {
		return Round{}, err
	}
	if err := r.Store.FinishRound(ctx, roundID, r.now()); err != nil {
		return Round{}, err
	}
	probes, err := r.Store.RoundProbes(ctx, roundID)
	if err != nil {
		return Round{}, err
	}
	log.Info("round finished", "probes", len(probes))
	return Round{ID: roundID, Check: check.Name, Probes: probes}, nil
}

// seedWatch is a seed's watcher, or why there is none.
type seedWatch struct {
	w   *seedbox.Watcher
	err error
}

// watchAll starts a watcher per seed, in parallel, before anything is sent.
func (r *Runner) watchAll(ctx context.Context, cfg *config.Config, check *config.Check, log *slog.Logger) map[string]*seedWatch {
	out := map[string]*seedWatch{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range check.Seeds {
		seed := cfg.Seeds[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw := &seedWatch{}
			acct, err := account(seed, check)
			if err == nil {
				sw.w, err = seedbox.Watch(ctx, acct, log)
			}
			if err != nil {
				sw.err = err
				log.Error("cannot watch seed", "seed", name, "err", err)
			}
			mu.Lock()
			out[name] = sw
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// newJob writes the probe row before anything is sent, so a crash leaves a row
// to finish rather than a message nobody counts.
func (r *Runner) newJob(ctx context.Context, roundID int64, check *config.Check, path *config.Path, seed *config.Seed) (*job, error) {
	tok, err := newToken()
	if err != nil {
		return nil, err
	}
	now := r.now()
	provider := ""
	if seed.Provider != nil {
		provider = seed.Provider.ID
	}
	j := &job{path: path, seed: seed, probe: store.Probe{
		RoundID: roundID, Token: tok, Check: check.Name, Path: path.Name, Seed: seed.Name,
		SeedAddress: seed.Address, Provider: provider, CreatedAt: now, DeadlineAt: now.Add(check.Deadline),
	}}
	if err := r.Store.InsertProbe(ctx, &j.probe); err != nil {
		return nil, err
	}
	return j, nil
}

// sendAll submits every probe, a few at a time.
func (r *Runner) sendAll(ctx context.Context, cfg *config.Config, check *config.Check, jobs []*job, watchers map[string]*seedWatch, log *slog.Logger) error {
	n := r.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.send(ctx, check, j, watchers[j.seed.Name], log); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}

// collect waits for every sent probe until its deadline and stores what was found.
func (r *Runner) collect(ctx context.Context, check *config.Check, jobs []*job, watchers map[string]*seedWatch, log *slog.Logger) error {
	waiting := map[string]*job{}
	var last time.Time
	for _, j := range jobs {
		if j.watcher != nil {
			waiting[j.probe.Token] = j
			if j.probe.DeadlineAt.After(last) {
				last = j.probe.DeadlineAt
			}
		}
	}
	found := make(chan seedbox.Found)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for name, sw := range watchers {
		if sw.w == nil {
			continue
		}
		go func() {
			for {
				select {
				case f := <-sw.w.Found():
					select {
					case found <- f:
					case <-fctx.Done():
						return
					}
				case err := <-sw.w.Errors():
					log.Warn("seed watcher error", "seed", name, "err", err)
				case <-fctx.Done():
					return
				}
			}
		}()
	}
	timer := time.NewTimer(last.Sub(r.now()))
	defer timer.Stop()
	for len(waiting) > 0 {
		select {
		case f := <-found:
			j, ok := waiting[f.Token]
			if !ok {
				continue
			}
			delete(waiting, f.Token)
			if err := r.recordFound(ctx, j, f, log); err != nil {
				return err
			}
		case <-timer.C:
			return r.expire(ctx, waiting, log)
		case <-ctx.Done():
			// Stopped from outside: the probes stay "sent" for a later run to finish.
			return nil
		}
	}
	return nil
}

// expire marks every probe still waiting as missing.
func (r *Runner) expire(ctx context.Context, waiting map[string]*job, log *slog.Logger) error {
	for tok, j := range waiting {
		j.watcher.Forget(tok)
		reason := fmt.Sprintf("not found in %s within %s", folderNames(j.watcher), j.probe.DeadlineAt.Sub(j.probe.CreatedAt))
		if err := r.Store.Finish(ctx, j.probe.ID, store.StateMissing, "missing", reason, r.now()); err != nil {
			return err
		}
		log.Warn("probe missing", "path", j.path.Name, "seed", j.seed.Name, "token", tok)
	}
	return nil
}

func folderNames(w *seedbox.Watcher) string {
	s := ""
	for i, f := range w.Folders() {
		if i > 0 {
			s += " and "
		}
		s += fmt.Sprintf("%q", f.Name)
	}
	return s
}
