package runner

import (
	"context"
	"errors"
	"sort"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/seedbox"
)

// Housekeep prunes probe rows older than the retention period and deletes this
// mailflow's probe messages older than purge_after from every seed's inbox and
// junk folder. A seed that cannot be reached is logged and skipped; the error
// joins every failure.
func (r *Runner) Housekeep(ctx context.Context, cfg *config.Config) error {
	h := cfg.Housekeeping
	var errs []error
	if h.Retention > 0 {
		n, err := r.Store.Prune(ctx, r.now().Add(-h.Retention))
		if err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			r.Log.Info("pruned old probes from the database", "probes", n, "retention", h.Retention)
		}
	}
	if h.PurgeAfter <= 0 {
		return errors.Join(errs...)
	}
	mine := func(token string) bool {
		ok, err := r.Store.Final(ctx, token)
		return err == nil && ok
	}
	names := make([]string, 0, len(cfg.Seeds))
	for n := range cfg.Seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		acct, err := r.account(cfg, name)
		if err == nil {
			var n int
			n, err = seedbox.Purge(ctx, acct, r.now().Add(-h.PurgeAfter), mine, r.Log)
			if n > 0 {
				r.Log.Info("purged leftover probe messages", "seed", name, "messages", n)
			}
		}
		if err != nil {
			r.Log.Warn("housekeeping skipped a seed", "seed", name, "err", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
