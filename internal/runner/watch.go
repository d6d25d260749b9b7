package runner

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/seedbox"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/verdict"
)

// seedWatch is a seed's watcher, or why it cannot watch.
type seedWatch struct {
	w   *seedbox.Watcher
	err error
}

// pool returns the runner's watchers, started on first use: one long-lived
// watcher per seed, shared by every round of every check, within the
// configured bound of IMAP connections per host.
func (r *Runner) pool(cfg *config.Config) *seedbox.Pool {
	r.poolMu.Lock()
	defer r.poolMu.Unlock()
	if r.watchers == nil {
		n := cfg.IMAP.ConnectionsPerHost
		if n <= 0 {
			n = config.DefaultConnsPerHost
		}
		r.watchers = seedbox.NewPool(n, r.Log)
		// A provider's cap on sessions per account bounds its host as well.
		for _, s := range cfg.Seeds {
			if s.Provider != nil {
				r.watchers.Limiter().Cap(s.IMAPHost, s.Provider.MaxConnections)
			}
		}
	}
	return r.watchers
}

// Close closes the seed watchers; their connections log out.
func (r *Runner) Close() {
	r.poolMu.Lock()
	p := r.watchers
	r.watchers = nil
	r.poolMu.Unlock()
	if p != nil {
		p.Close()
	}
}

// watchAll makes the watcher of every seed ready, in parallel, before anything
// is sent: a seed that cannot be watched gets no probe.
func (r *Runner) watchAll(ctx context.Context, cfg *config.Config, seeds []string, log *slog.Logger) map[string]*seedWatch {
	out := map[string]*seedWatch{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw := &seedWatch{}
			sw.w, sw.err = r.watcher(ctx, cfg, name)
			if sw.err != nil {
				log.Error("cannot watch seed", "seed", name, "err", sw.err)
			}
			mu.Lock()
			out[name] = sw
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (r *Runner) watcher(ctx context.Context, cfg *config.Config, name string) (*seedbox.Watcher, error) {
	acct, err := r.account(cfg, name)
	if err != nil {
		return nil, err
	}
	w := r.pool(cfg).Watcher(acct)
	if err := w.Ready(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// pollInterval is the seed's poll interval: the shortest of the checks that
// name it, since one watcher serves them all.
func pollInterval(cfg *config.Config, seed string) time.Duration {
	var poll time.Duration
	for _, c := range cfg.Checks {
		if c.PollInterval > 0 && (poll == 0 || c.PollInterval < poll) && slices.Contains(c.Seeds, seed) {
			poll = c.PollInterval
		}
	}
	if poll == 0 {
		poll = config.DefaultPollInterval
	}
	return poll
}

// collect waits for every watched probe until its deadline and stores what was
// found. When ctx ends it returns at once, leaving the rest for Resume.
// Every probe is watched for at least minWait, so one whose deadline passed
// while mailflow was down still gets a look.
func (r *Runner) collect(ctx context.Context, jobs []*job, found <-chan seedbox.Found, minWait time.Duration, log *slog.Logger) error {
	st := context.WithoutCancel(ctx)
	floor := r.now().Add(minWait)
	waiting := map[string]*job{}
	for _, j := range jobs {
		if j.watcher != nil {
			waiting[j.probe.Token] = j
		}
	}
	// The watchers outlive the round: whatever it leaves is no longer looked for.
	defer func() {
		for tok, j := range waiting {
			j.watcher.Forget(tok)
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for len(waiting) > 0 {
		select {
		case f := <-found:
			j, ok := waiting[f.Token]
			if !ok {
				continue
			}
			delete(waiting, f.Token)
			if err := r.recordFound(st, j, f, log); err != nil {
				return err
			}
		case <-timer.C:
			// Each probe ends at its own deadline (never before floor).
			now := r.now()
			due := map[string]*job{}
			next := time.Time{}
			for tok, j := range waiting {
				end := j.probe.DeadlineAt
				if end.Before(floor) {
					end = floor
				}
				if !end.After(now) {
					due[tok] = j
					delete(waiting, tok)
				} else if next.IsZero() || end.Before(next) {
					next = end
				}
			}
			if err := r.expire(st, due, log); err != nil {
				return err
			}
			if !next.IsZero() {
				timer.Reset(next.Sub(now))
			}
		case <-ctx.Done():
			// Stopped from outside: the probes stay "sent" for a later run to finish.
			return nil
		}
	}
	return nil
}

// expire ends every probe still waiting: a sent probe is missing; one whose
// submission was never recorded (mailflow stopped during it) is an error, since
// nobody knows whether it was accepted, and it is never sent again.
func (r *Runner) expire(ctx context.Context, waiting map[string]*job, log *slog.Logger) error {
	for tok, j := range waiting {
		j.watcher.Forget(tok)
		within := fmt.Sprintf("not found in %s within %s", folderNames(j.watcher), j.probe.DeadlineAt.Sub(j.probe.CreatedAt))
		state, placement, reason := store.StateMissing, verdict.Missing, within
		if j.probe.State == store.StatePending {
			state, placement = store.StateError, verdict.Error
			reason = "mailflow stopped before the submission's outcome was recorded, and the probe was " + within
		}
		if err := r.Store.Finish(ctx, j.probe.ID, state, string(placement), reason, r.now()); err != nil {
			return err
		}
		log.Warn("probe not found by its deadline", "path", j.probe.Path, "seed", j.probe.Seed, "token", tok, "state", state)
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
