package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
)

func probeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("probe", stderr)
	check := fs.String("check", "", "run only the check `NAME` (default: every check)")
	asJSON := roundFlags(fs)
	nagios := fs.Bool("nagios", false, "act as a Nagios/Icinga plugin: one status line with perfdata, exit 0/1/2/3")
	warn := fs.Duration("w", 30*time.Second, "with --nagios: WARNING when a probe's round trip reaches this")
	crit := fs.Duration("c", 120*time.Second, "with --nagios: CRITICAL when a probe's round trip reaches this")
	var errOut bytes.Buffer
	cmdErr := stderr
	if slices.Contains(args, "--nagios") || slices.Contains(args, "-nagios") {
		cmdErr = &errOut // a plugin prints one line; the reason goes into it
	}
	cfg, log, code, ok := commonFlags(fs, "warn", false).start(args, cmdErr)
	if ok && *warn > *crit {
		fmt.Fprintf(cmdErr, "mailflow probe: -w %s is above -c %s\n", *warn, *crit)
		code, ok = exitUsage, false
	}
	var checks []*config.Check
	if ok {
		var err error
		if checks, err = selectChecks(cfg, *check); err != nil {
			fmt.Fprintln(cmdErr, "mailflow probe:", err)
			code, ok = exitUsage, false
		}
	}
	if !ok {
		if *nagios {
			fmt.Fprintf(stdout, "MAILFLOW UNKNOWN - %s\n", strings.Join(strings.Fields(errOut.String()), " "))
			return report.NagiosUnknown
		}
		return code
	}
	if *nagios {
		probes, err := probeRounds(ctx, cfg, checks, log)
		if err != nil {
			fmt.Fprintf(stdout, "MAILFLOW UNKNOWN - %s\n", strings.Join(strings.Fields(err.Error()), " "))
			return report.NagiosUnknown
		}
		line, status := report.Nagios(probes, *warn, *crit)
		fmt.Fprintln(stdout, line)
		return status
	}
	return runRounds(ctx, cfg, checks, *asJSON, stdout, stderr, log)
}

// probeRounds runs one round of each check and returns their probes; an
// error means mailflow could not run (the store), not that mail failed.
func probeRounds(ctx context.Context, cfg *config.Config, checks []*config.Check, log *slog.Logger) ([]store.Probe, error) {
	db, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	r := &runner.Runner{Store: db, Log: log, Tokens: oauth.NewTokens(cfg, oauth.Options{Log: log})}
	defer r.Close()
	var all []store.Probe
	for _, c := range checks {
		round, err := r.Run(ctx, cfg, c)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.Name, err)
		}
		all = append(all, round.Probes...)
	}
	return all, nil
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
	all, err := probeRounds(ctx, cfg, checks, log)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow: %v\n", err)
		return exitFailed
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
