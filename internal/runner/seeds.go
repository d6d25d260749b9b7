package runner

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/seedbox"
)

// SeedHealth is the health check of one seed.
type SeedHealth struct {
	Seed   *config.Seed
	Health seedbox.Health
	Err    error
}

// CheckSeeds logs in to every configured seed, a few at a time, lists its
// folders with their roles and counts probe messages older than staleAfter.
// Results are in seed-name order.
func (r *Runner) CheckSeeds(ctx context.Context, cfg *config.Config, staleAfter time.Duration) []SeedHealth {
	names := make([]string, 0, len(cfg.Seeds))
	for n := range cfg.Seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]SeedHealth, len(names))
	sem := make(chan struct{}, max(r.Concurrency, 4))
	staleBefore := r.now().Add(-staleAfter)
	var wg sync.WaitGroup
	for i, name := range names {
		seed := cfg.Seeds[name]
		out[i].Seed = seed
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			acct, err := r.account(cfg, name)
			if err == nil {
				out[i].Health, err = seedbox.Inspect(ctx, acct, staleBefore, r.Log)
			}
			out[i].Err = err
		}()
	}
	wg.Wait()
	return out
}
