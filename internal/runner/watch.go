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
	"github.com/mailflow/mailflow/internal/verdict"
)

// seedWatch is a seed's watcher, or why there is none.
type seedWatch struct {
	w   *seedbox.Watcher
	err error
}

// watchAll starts a watcher per seed, in parallel, before anything is sent.
func (r *Runner) watchAll(ctx context.Context, cfg *config.Config, seeds []string, poll time.Duration, log *slog.Logger) map[string]*seedWatch {
	out := map[string]*seedWatch{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range seeds {
		seed := cfg.Seeds[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw := &seedWatch{}
			acct, err := r.account(seed, poll)
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

func closeAll(watchers map[string]*seedWatch) {
	for _, w := range watchers {
		if w.w != nil {
			w.w.Close()
		}
	}
}

// collect waits for every watched probe until its deadline and stores what was
// found. When ctx ends it returns at once, leaving the rest for Resume.
// Every probe is watched for at least minWait, so one whose deadline passed
// while mailflow was down still gets a look.
func (r *Runner) collect(ctx context.Context, jobs []*job, watchers map[string]*seedWatch, minWait time.Duration, log *slog.Logger) error {
	st := context.WithoutCancel(ctx)
	floor := r.now().Add(minWait)
	waiting := map[string]*job{}
	for _, j := range jobs {
		if j.watcher != nil {
			waiting[j.probe.Token] = j
		}
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the forwarders with the collection
	found := forward(fctx, watchers, log)
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

// forward merges the found probes of every watcher into one channel, and logs
// their connection errors, until ctx ends.
func forward(ctx context.Context, watchers map[string]*seedWatch, log *slog.Logger) <-chan seedbox.Found {
	found := make(chan seedbox.Found)
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
					case <-ctx.Done():
						return
					}
				case err := <-sw.w.Errors():
					log.Warn("seed watcher error", "seed", name, "err", err)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return found
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
