package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/store"
)

// reportCmd summarises the stored probes: by path, seed, provider or check,
// over a recent window.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("report", stderr)
	since := fs.String("since", "24h", "report probes created within this `duration` (\"90m\", \"7d\"); \"0\" for all")
	check := fs.String("check", "", "only the check `NAME`")
	by := fs.String("by", "path", "group by path, seed, provider or check")
	format := fs.String("format", "table", "table, json or csv")
	cfg, _, code, ok := commonFlags(fs, "", false).start(args, stderr)
	if !ok {
		return code
	}
	window, err := config.ParseDuration(*since)
	if err != nil || window < 0 {
		fmt.Fprintf(stderr, "mailflow report: --since %q is not a duration (e.g. 24h, 90m, 7d)\n", *since)
		return exitUsage
	}
	// Bad flags are said before a report over millions of probes runs.
	if !slices.Contains(store.GroupKeys, *by) {
		fmt.Fprintf(stderr, "mailflow report: --by %q: group by one of %s\n", *by, strings.Join(store.GroupKeys, ", "))
		return exitUsage
	}
	if !slices.Contains(report.Formats, *format) {
		fmt.Fprintf(stderr, "mailflow report: --format %q: write one of %s\n", *format, strings.Join(report.Formats, ", "))
		return exitUsage
	}
	if *check != "" && cfg.Checks[*check] == nil {
		fmt.Fprintf(stderr, "mailflow report: --check %q is not in %s (its probes, if any, are still counted without --check)\n", *check, cfg.File)
	}
	db, err := openStore(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow report: %v\n", err)
		return exitFailed
	}
	defer db.Close()
	var from time.Time
	if window > 0 {
		from = time.Now().Add(-window)
	}
	groups, err := report.Compute(ctx, db, from, *check, *by)
	if err == nil {
		err = report.WriteGroups(stdout, groups, *by, *format)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailflow report: %v\n", err)
		return exitFailed
	}
	return exitOK
}
