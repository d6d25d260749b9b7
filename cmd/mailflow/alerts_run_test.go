package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/lab"
)

// hook is a webhook receiver on loopback that keeps the events posted to it.
type hook struct {
	mu     sync.Mutex
	events []alert.Event
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev alert.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *hook) got() []alert.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]alert.Event(nil), h.events...)
}

// TestDaemonAlertsOnce runs `mailflow run` on the lab, where bob files mail
// into Junk: a placement rule fires once for bob through a webhook, never for
// alice, and a restart of the daemon does not fire it again.
func TestDaemonAlertsOnce(t *testing.T) {
	l, err := lab.Start(lab.Options{Seeds: []lab.SeedSpec{{Name: "alice", Rule: lab.RuleDeliver}, {Name: "bob", Rule: lab.RuleJunk}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv("MAILFLOW_TEST_HOOK", srv.URL+"/secret-path")
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
	deadline := time.Now().Add(20 * time.Second)
	for len(h.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // more rounds: still one notification
	stop(t, cmd)
	evs := h.got()
	if len(evs) != 1 {
		t.Fatalf("webhook got %d events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.Status != alert.StatusFiring || ev.Alert != "often/junk/seed=bob" || ev.Kind != "placement" || ev.Severity != "critical" ||
		!strings.Contains(ev.Summary, "bob via submission spam") || len(ev.Probes) == 0 {
		t.Errorf("event = %+v, want bob's probe in spam firing", ev)
	}

	cmd = startDaemon(t, cfg, &logs)
	time.Sleep(3 * time.Second)
	stop(t, cmd)
	if evs := h.got(); len(evs) != 1 {
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
