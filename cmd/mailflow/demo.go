package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
)

// demoCmd starts the embedded lab, runs one round over its three paths and
// prints the result. Its exit status says whether the demo ran, not where mail
// landed: one lab seed files everything into Junk on purpose.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("demo", stderr)
	db := fs.String("db", filepath.Join(os.TempDir(), "mailflow-demo", "mailflow.db"), "SQLite `file` to keep the results in")
	asJSON := roundFlags(fs)
	level := fs.String("log-level", "warn", "diagnostics on stderr: debug, info, warn or error")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	log, err := newLogger(stderr, "text", *level)
	if err != nil {
		fmt.Fprintln(stderr, "mailflow demo:", err)
		return exitUsage
	}
	start := time.Now()
	l, err := lab.Start(lab.Options{Logger: log, Seeds: []lab.SeedSpec{
		{Name: "alice", Rule: lab.RuleDeliver},
		{Name: "bob", Rule: lab.RuleJunk},
	}})
	if err != nil {
		fmt.Fprintf(stderr, "mailflow demo: start the lab: %v\n", err)
		return exitFailed
	}
	defer l.Close()
	fmt.Fprintf(stderr, "lab up on loopback: relay %s, submission %s, smtps %s, imaps %s\n", l.Relay, l.Submission, l.SMTPS, l.IMAP)
	fmt.Fprintf(stderr, "seed alice files mail by its content; seed bob's rule files everything into Junk\n\n")

	cfg, err := l.Config(*db)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow demo: %v\n", err)
		return exitFailed
	}
	checks, _ := selectChecks(cfg, "")
	code := runRounds(ctx, cfg, checks, *asJSON, stdout, stderr, log)
	if code == exitFailed {
		return code
	}
	fmt.Fprintf(stderr, "\nround finished in %s; results stored in %s\n", time.Since(start).Round(time.Millisecond), *db)
	return exitOK
}
