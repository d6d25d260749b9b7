package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
)

// TestMain lets the test binary stand in for mailflow in subprocess tests:
// with MAILFLOW_TEST_AS_MAIN=1 it runs the command line instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("MAILFLOW_TEST_AS_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// daemonConfig writes a config for the lab with one check every second.
func daemonConfig(t *testing.T, l *lab.Lab) string {
	t.Helper()
	return labConfigWith(t, l, "[checks.often]\nschedule = \"@every 1s\"\ndeadline = \"2s\"\npoll_interval = \"1s\"\n",
		"alice", "bob", "dave")
}

// unfinished counts the probes a killed run left pending or sent.
func unfinished(t *testing.T, cfgPath string) int {
	t.Helper()
	db, err := store.Open(filepath.Join(filepath.Dir(cfgPath), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	left, err := db.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(left)
}

// startDaemon starts `mailflow run`; its log goes to logs, shown if the test fails.
func startDaemon(t *testing.T, cfg string, logs *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--config", cfg, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "MAILFLOW_TEST_AS_MAIN=1")
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestKilledDaemonLosesNothing kills `mailflow run` with SIGKILL at several
// moments of its rounds, restarts it each time, stops it with SIGTERM, and
// checks that every probe written ends final exactly once and was sent at most
// once.
func TestKilledDaemonLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailflow run several times; run without -short")
	}
	// dave drops mail, so every round waits for its deadline and kills land
	// while probes are still being watched.
	l, err := lab.Start(lab.Options{Seeds: []lab.SeedSpec{
		{Name: "alice", Rule: lab.RuleDeliver}, {Name: "bob", Rule: lab.RuleJunk}, {Name: "dave", Rule: lab.RuleDrop}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfgPath := daemonConfig(t, l)
	var logs bytes.Buffer // written only between Start and Wait of each run
	defer func() {
		if t.Failed() {
			t.Logf("mailflow run logs:\n%s", logs.String())
		}
	}()

	interrupted := 0
	for _, after := range []time.Duration{1100 * time.Millisecond, 1700 * time.Millisecond, 2300 * time.Millisecond, 3050 * time.Millisecond} {
		cmd := startDaemon(t, cfgPath, &logs)
		<-time.After(after) // the moment of the kill, not a wait for something
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		interrupted += unfinished(t, cfgPath)
	}
	if interrupted == 0 {
		t.Error("no kill left an unfinished probe; the test did not exercise a crash")
	}
	cmd := startDaemon(t, cfgPath, &logs)
	<-time.After(2500 * time.Millisecond)
	stopAt := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("mailflow run after SIGTERM: %v, want exit 0", err)
	}
	if d := time.Since(stopAt); d > 10*time.Second {
		t.Errorf("mailflow run took %s to stop, want under 10s", d)
	}

	// What the last run left waiting is finished as its next start would.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &runner.Runner{Store: db, Log: discardLog(), ResumeLook: time.Second}
	defer r.Close()
	if err := r.Resume(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.IntegrityCheck(ctx); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v, want ok", ok, err)
	}
	left, err := db.Unfinished(ctx)
	if err != nil || len(left) != 0 {
		t.Errorf("unfinished probes = %d, %v, want none", len(left), err)
	}
	probes, err := db.Probes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(probes) < 6 {
		t.Fatalf("only %d probes were written in five runs, want rounds to have run", len(probes))
	}
	found := 0
	for _, p := range probes {
		n := l.Deliveries(p.Token)
		if n > 1 {
			t.Errorf("probe %s was delivered %d times, want at most once", p.Token, n)
		}
		if p.State == store.StateFound {
			found++
			if n != 1 {
				t.Errorf("probe %s is found but the lab delivered it %d times", p.Token, n)
			}
		}
		if p.State == store.StateMissing && n == 1 && p.Seed == "alice" {
			t.Errorf("probe %s was delivered to alice's inbox but ended missing", p.Token)
		}
	}
	if found == 0 {
		t.Error("no probe was found; the daemon did not get far enough to test anything")
	}
	t.Logf("%d probes, %d found, %d left unfinished by the kills", len(probes), found, interrupted)
}
