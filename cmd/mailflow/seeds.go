package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/oauth/bearer"
	"github.com/mailflow/mailflow/internal/runner"
)

// seedsCmd is the seed-list health check: it logs in to every seed and shows
// its folders, their roles and the probe messages left in them.
func seedsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("seeds", stderr)
	stale := fs.Duration("stale-after", time.Hour, "count probe messages older than this as stale")
	cfg, log, code, ok := commonFlags(fs, "warn", false).start(args, stderr)
	if !ok {
		return code
	}
	r := &runner.Runner{Log: log, Tokens: oauth.NewTokens(cfg, oauth.Options{Log: log})}
	defer r.Close()
	results := r.CheckSeeds(ctx, cfg, *stale)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEED\tADDRESS\tSTATUS\tLOGIN\tFOLDERS\tPROBE MESSAGES (STALE)\tCAPABILITIES")
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\n", r.Seed.Name, r.Seed.Address, failure(r.Err))
			continue
		}
		var folders, probes []string
		for _, f := range r.Health.Folders {
			folders = append(folders, fmt.Sprintf("%s=%s", f.Name, f.Role))
			if f.Watched {
				probes = append(probes, fmt.Sprintf("%s %d (%d)", f.Name, f.Probes, f.Stale))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\tok\t%s\t%s\t%s\t%s\n", r.Seed.Name, r.Seed.Address, r.Health.Login.Round(time.Millisecond),
			strings.Join(folders, " "), strings.Join(probes, ", "), strings.Join(r.Health.Caps, " "))
	}
	tw.Flush()
	if failed == 0 {
		return exitOK
	}
	fmt.Fprintf(stderr, "\n%d of %d seeds failed:\n", failed, len(results))
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(stderr, "  %s (%s): %v\n", r.Seed.Name, r.Seed.Source, r.Err)
		}
	}
	return exitFailed
}

// failure is the STATUS of a seed that failed: an OAuth2 failure names the
// provider's error code, or says the server refused the token.
func failure(err error) string {
	var oe *oauth.Error
	var re *bearer.RefusedError
	switch {
	case errors.As(err, &oe) && oe.Code != "":
		return "FAILED oauth2 " + oe.Code
	case errors.As(err, &oe):
		return "FAILED oauth2"
	case errors.As(err, &re):
		return "FAILED oauth2 token refused"
	}
	return "FAILED"
}
