package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/runner"
)

// firing is an alert as the engine would notify it, every field set.
func firing() Event {
	starts := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	return Event{
		ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Status: StatusFiring, Alert: "default/slow/path=submission",
		Check: "default", Rule: "slow", Kind: "latency", Severity: "critical", Group: "path=submission",
		Summary: "p95 round trip 3m12s over 2m0s", Value: 192.5, Threshold: 120,
		Probes:   []string{"aaaaaaaabbbbbbbbccccccccdddddddd", "00000000111111112222222233333333"},
		StartsAt: starts, Repeat: 0, At: starts.Add(30 * time.Second),
	}
}

// resolved is firing's alert once it resolved.
func resolved() Event {
	e := firing()
	ends := e.StartsAt.Add(45 * time.Minute)
	e.ID, e.Status, e.EndsAt, e.At = "resolved-1", StatusResolved, &ends, ends
	e.Summary = "p95 round trip 40s, under 2m0s again"
	return e
}

// testPaths turns paths into what submit takes, as the daemon does.
var testPaths = (&runner.Runner{}).SubmitPath

// newTestNotifier builds n with NewNotifier and fails the test on an error.
func newTestNotifier(t *testing.T, n *config.Notifier, cfg *config.Config) Notifier {
	t.Helper()
	if n.Timeout == 0 {
		n.Timeout = 5 * time.Second
	}
	nt, err := NewNotifier(n, cfg, testPaths)
	if err != nil {
		t.Fatalf("NewNotifier(%s): %v", n.Name, err)
	}
	return nt
}

func TestNotifiers(t *testing.T) {
	cfg := &config.Config{
		Paths: map[string]*config.Path{"submission": {Name: "submission", Host: "127.0.0.1", Port: 587, MailFrom: "monitor@example.com"}},
		Notifiers: map[string]*config.Notifier{
			"hook":  {Name: "hook", Type: config.NotifyWebhook, URL: config.NewSecret("https://hooks.example.com/abc", "env:U"), Timeout: time.Second},
			"chat":  {Name: "chat", Type: config.NotifySlack, URL: config.NewSecret("https://hooks.example.com/def", "env:S"), Timeout: time.Second},
			"page":  {Name: "page", Type: config.NotifyCommand, Command: []string{"/bin/true"}, Timeout: time.Second},
			"mail":  {Name: "mail", Type: config.NotifyEmail, Path: "submission", To: []string{"oncall@example.com"}, Timeout: time.Second},
			"fax":   {Name: "fax", Type: "fax", Timeout: time.Second},
			"lost":  {Name: "lost", Type: config.NotifyEmail, Path: "nosuch", To: []string{"oncall@example.com"}, Timeout: time.Second},
			"bad":   {Name: "bad", Type: config.NotifyWebhook, URL: config.NewSecret("ftp://SECRETHOST/x", "env:B"), Timeout: time.Second},
			"empty": {Name: "empty", Type: config.NotifyCommand, Timeout: time.Second},
		},
	}
	ns, err := Notifiers(cfg, testPaths)
	for _, name := range []string{"hook", "chat", "page", "mail"} {
		if ns[name] == nil || ns[name].Name() != name {
			t.Errorf("Notifiers()[%q] = %v, want the notifier named %q", name, ns[name], name)
		}
	}
	if len(ns) != 4 {
		t.Errorf("Notifiers() made %d notifiers, want 4", len(ns))
	}
	if err == nil {
		t.Fatal("Notifiers() error = nil, want one per broken notifier")
	}
	for _, want := range []string{`notifier fax: type "fax"`, `notifier lost: no path named "nosuch"`,
		"notifier bad: the URL from env:B is not an http:// or https:// URL", "notifier empty: command is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Notifiers() error = %q, want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "SECRETHOST") {
		t.Errorf("Notifiers() error = %q, reveals the URL", err)
	}
}

func TestTestEvent(t *testing.T) {
	now := time.Date(2025, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	e := TestEvent(now, "mon1")
	if e.Status != StatusTest || !e.At.Equal(now) || e.At.Location() != time.UTC || len(e.ID) != 32 {
		t.Errorf("TestEvent() = %+v, want status test, At %v in UTC, a 32-digit id", e, now)
	}
	if !strings.Contains(e.Summary, "mon1") {
		t.Errorf("TestEvent().Summary = %q, want the host mon1 in it", e.Summary)
	}
	if other := TestEvent(now, "mon1"); other.ID == e.ID {
		t.Errorf("two TestEvents share the id %s", e.ID)
	}
}
