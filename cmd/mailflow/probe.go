package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
)

func probeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("probe", stderr)
	check := fs.String("check", "", "run only the check `NAME` (default: every check)")
	asJSON := roundFlags(fs)
	cfg, log, code, ok := commonFlags(fs, "warn", false).start(args, stderr)
	if !ok {
		return code
	}
	checks, err := selectChecks(cfg, *check)
	if err != nil {
		fmt.Fprintln(stderr, "mailflow probe:", err)
		return exitUsage
	}
	return runRounds(ctx, cfg, checks, *asJSON, stdout, stderr, log)
}

// selectChecks returns the named check, or every check in name order.
func selectChecks(cfg *config.Config, name string) ([]*config.Check, error) {
	if name != "" {
		c, ok := cfg.Checks[name]
		if !ok {
			return nil, fmt.Errorf("--check %q: no such check in %s", name, cfg.File)
		}
		return []*config.Check{c}, nil
	}
	var out []*config.Check
	for _, c := range cfg.Checks {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return nil, fmt.Errorf("%s declares no [checks.NAME]", cfg.File)
	}
	return out, nil
}

// runRounds runs one round of each check, prints the probes and returns the
// exit status.
func runRounds(ctx context.Context, cfg *config.Config, checks []*config.Check, asJSON bool, stdout, stderr io.Writer, log *slog.Logger) int {
	db, err := openStore(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	r := &runner.Runner{Store: db, Log: log}
	defer r.Close()
	var all []store.Probe
	for _, c := range checks {
		round, err := r.Run(ctx, cfg, c)
		if err != nil {
			fmt.Fprintf(stderr, "mailflow: check %s: %v\n", c.Name, err)
			return exitFailed
		}
		all = append(all, round.Probes...)
	}
	if asJSON {
		err = report.JSON(stdout, all)
	} else {
		err = report.Table(stdout, all)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailflow: %v\n", err)
		return exitFailed
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "mailflow: interrupted; unfinished probes stay in the store")
		return exitFailed
	}
	return report.Status(all)
}
