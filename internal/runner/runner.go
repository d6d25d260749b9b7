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
	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/seedbox"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/verdict"
)

// Runner runs rounds against one store.
type Runner struct {
	Store *store.DB
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Concurrency bounds the SMTP connections, and so the submissions in
	// flight, per path (default 4).
	Concurrency int
	// ResumeLook is how long Resume looks for probes whose deadline passed
	// while mailflow was down (default 10s).
	ResumeLook time.Duration
	// Tokens are the OAuth2 token sources of the seeds and paths with
	// auth = "oauth2"; nil when none logs in that way.
	Tokens *oauth.Tokens

	cas caPools

	poolMu   sync.Mutex
	watchers *seedbox.Pool // started by the first round; see pool
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
	// sink receives the probe when its watcher finds it.
	sink chan<- seedbox.Found
}

// Run runs one round of check and returns its probes as stored. It returns an
// error only when the store fails; every probe outcome, including an SMTP or
// IMAP failure, is in the probes.
//
// Ending ctx stops the round gracefully: no new probe is sent (those not yet
// sent end as errors), sends in flight finish (for up to SendGrace), and
// probes still being waited for stay "sent" in the store for Resume to finish.
// Store writes are never abandoned half-way.
func (r *Runner) Run(ctx context.Context, cfg *config.Config, check *config.Check) (Round, error) {
	if err := ctx.Err(); err != nil {
		return Round{}, err // stopping: start nothing
	}
	st := context.WithoutCancel(ctx) // store writes outlive a stop
	log := r.Log.With("check", check.Name)
	roundID, err := r.Store.StartRound(st, check.Name, r.now())
	if err != nil {
		return Round{}, err
	}
	log = log.With("round", roundID)
	log.Info("round started", "paths", len(check.Paths), "seeds", len(check.Seeds))

	watchers := r.watchAll(ctx, cfg, check.Seeds, log)
	found := make(chan seedbox.Found, len(check.Paths)*len(check.Seeds))
	var jobs []*job
	for _, pname := range check.Paths {
		for _, sname := range check.Seeds {
			j, err := r.newJob(st, roundID, check, cfg.Paths[pname], cfg.Seeds[sname])
			if err != nil {
				return Round{}, err
			}
			j.sink = found
			jobs = append(jobs, j)
		}
	}
	if err := r.sendAll(ctx, check, jobs, watchers, log); err != nil {
		return Round{}, err
	}
	if err := r.collect(ctx, jobs, found, 0, log); err != nil {
		return Round{}, err
	}
	if err := r.Store.FinishRound(st, roundID, r.now()); err != nil {
		return Round{}, err
	}
	probes, err := r.Store.RoundProbes(st, roundID)
	if err != nil {
		return Round{}, err
	}
	log.Info("round finished", "probes", len(probes), "summary", summary(probes))
	return Round{ID: roundID, Check: check.Name, Probes: probes}, nil
}

// summary counts probes by placement, for the round's log line.
func summary(probes []store.Probe) string {
	counts := map[string]int{}
	var order []string
	for _, p := range probes {
		pl := p.Placement
		if pl == "" {
			pl = p.State
		}
		if counts[pl] == 0 {
			order = append(order, pl)
		}
		counts[pl]++
	}
	s := ""
	for i, pl := range order {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", pl, counts[pl])
	}
	return s
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

// SendGrace bounds how long sends in flight may go on after a stop.
const SendGrace = 8 * time.Second

// sendAll submits every probe. Each path gets up to Concurrency senders, each
// keeping one SMTP connection open across its probes. After ctx ends, probes
// not yet sent are ended as errors; sends in flight finish within SendGrace.
func (r *Runner) sendAll(ctx context.Context, check *config.Check, jobs []*job, watchers map[string]*seedWatch, log *slog.Logger) error {
	n := r.Concurrency
	if n <= 0 {
		n = 4
	}
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(SendGrace, cancel) })
	defer stop()

	byPath := map[string][]*job{}
	var paths []string
	for _, j := range jobs {
		if byPath[j.path.Name] == nil {
			paths = append(paths, j.path.Name)
		}
		byPath[j.path.Name] = append(byPath[j.path.Name], j)
	}
	errs := make(chan error, len(jobs)+1)
	var wg sync.WaitGroup
	for _, p := range paths {
		pj := byPath[p]
		work := make(chan *job, len(pj))
		for _, j := range pj {
			work <- j
		}
		close(work)
		for range min(n, len(pj)) {
			snd := r.newSender(check, pj[0].path, log)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer snd.close()
				for j := range work {
					var err error
					if ctx.Err() != nil {
						err = r.Store.Finish(sendCtx, j.probe.ID, store.StateError, string(verdict.Error),
							"not sent: mailflow was stopping", r.now())
					} else {
						err = snd.send(sendCtx, j, watchers[j.seed.Name])
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}
