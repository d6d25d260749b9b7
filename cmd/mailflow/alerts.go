package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/runner"
)

// alertsCmd runs `mailflow alerts SUBCOMMAND`; the only one is test.
func alertsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || args[0] != "test" {
		fmt.Fprintln(stderr, "mailflow alerts: the only subcommand is \"test\" (mailflow alerts test --config FILE [--notifier NAME])")
		return exitUsage
	}
	return alertsTestCmd(ctx, args[1:], stdout, stderr)
}

// alertsTestCmd sends a test notification through every notifier, or the one
// named, at once, and prints one line for each: ok, or why not.
func alertsTestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("alerts test", stderr)
	c := commonFlags(fs, "", false)
	only := fs.String("notifier", "", "send through the notifier `NAME` only")
	cfg, log, code, ok := c.start(args, stderr)
	if !ok {
		return code
	}
	names := make([]string, 0, len(cfg.Notifiers))
	for name := range cfg.Notifiers {
		names = append(names, name)
	}
	slices.Sort(names)
	switch {
	case len(names) == 0:
		fmt.Fprintf(stderr, "mailflow alerts test: %s declares no notifier (add a [notifiers.NAME] table)\n", cfg.File)
		return exitFailed
	case *only != "" && cfg.Notifiers[*only] == nil:
		fmt.Fprintf(stderr, "mailflow alerts test: --notifier %q: %s declares no such notifier (declared: %s)\n",
			*only, cfg.File, strings.Join(names, ", "))
		return exitUsage
	case *only != "":
		names = []string{*only}
	}

	host, _ := os.Hostname()
	event := alert.TestEvent(time.Now(), host)
	// Alert email goes over a path as probes do: its CA and OAuth2 login.
	paths := &runner.Runner{Tokens: oauth.NewTokens(cfg, oauth.Options{Log: log})}
	results := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		n, err := alert.NewNotifier(cfg.Notifiers[name], cfg, paths.SubmitPath)
		if err != nil {
			results[i] = err
			continue
		}
		wg.Go(func() { results[i] = n.Notify(ctx, event) })
	}
	wg.Wait()

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	code = exitOK
	for i, name := range names {
		result := "ok"
		if results[i] != nil {
			result, code = "failed: "+results[i].Error(), exitFailed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, cfg.Notifiers[name].Type, result)
	}
	tw.Flush()
	return code
}
