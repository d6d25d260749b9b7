package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/store"
)

// events decodes what the webhook received as alert events.
func (h *hookServer) events(t *testing.T) []alert.Event {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]alert.Event, len(h.bodies))
	for i, b := range h.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("webhook body %d is not an event: %v", i, err)
		}
	}
	return out
}

// waitUntil checks cond every 50 ms until it holds or d has passed.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %s", what, d)
		}
	}
}

// finishedRounds counts the rounds stored beside cfg that ended.
func finishedRounds(t *testing.T, cfg string) int {
	t.Helper()
	db, err := store.Open(filepath.Join(filepath.Dir(cfg), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rounds, err := db.RecentRounds(context.Background(), time.Time{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rounds {
		if !r.FinishedAt.IsZero() {
			n++
		}
	}
	return n
}

// TestDaemonAlertsOnce runs `mailflow run` on the lab, where bob files mail
// into Junk: a placement rule fires once for bob through a webhook, never for
// alice, neither in the rounds after nor after a restart of the daemon.
func TestDaemonAlertsOnce(t *testing.T) {
	l, err := lab.Start(lab.Options{Seeds: []lab.SeedSpec{{Name: "alice", Rule: lab.RuleDeliver}, {Name: "bob", Rule: lab.RuleJunk}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := newHookServer(t, http.StatusOK)
	t.Setenv("MAILFLOW_TEST_HOOK", h.URL+"/secret-path")
	cfg := labConfigWith(t, l, "[checks.often]\nschedule = \"@every 1s\"\ndeadline = \"3s\"\npoll_interval = \"1s\"\n", "alice", "bob")
	setWeb(t, cfg, `[web]
listen = "off"
[checks.often.alerts.junk]
kind = "placement"
[notifiers.hook]
type = "webhook"
url_env = "MAILFLOW_TEST_HOOK"
`)

	var logs bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("mailflow run logs:\n%s", logs.String())
		}
	}()
	cmd := startDaemon(t, cfg, &logs)
	waitUntil(t, 20*time.Second, "a notification", func() bool { return h.count() > 0 })
	rounds := finishedRounds(t, cfg)
	waitUntil(t, 20*time.Second, "three more rounds", func() bool { return finishedRounds(t, cfg) >= rounds+3 })
	stop(t, cmd)
	evs := h.events(t)
	if len(evs) != 1 {
		t.Fatalf("webhook got %d events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.Status != alert.StatusFiring || ev.Alert != "often/junk/seed=bob" || ev.Kind != "placement" || ev.Severity != "critical" ||
		!strings.Contains(ev.Summary, "bob via submission spam") || len(ev.Probes) == 0 {
		t.Errorf("event = %+v, want bob's probe in spam firing", ev)
	}

	rounds = finishedRounds(t, cfg)
	cmd = startDaemon(t, cfg, &logs)
	waitUntil(t, 20*time.Second, "two rounds after the restart", func() bool { return finishedRounds(t, cfg) >= rounds+2 })
	stop(t, cmd)
	if evs := h.events(t); len(evs) != 1 {
		t.Errorf("after a restart the webhook got %d events, want still 1: %+v", len(evs), evs[1:])
	}
	if strings.Contains(logs.String(), "secret-path") {
		t.Error("the webhook URL appears in the log")
	}
}

// stop ends a daemon with SIGTERM and expects exit 0.
func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("mailflow run after SIGTERM: %v, want exit 0", err)
	}
}
