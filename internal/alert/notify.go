package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/submit"
)

// Notifier delivers an Event to one place alerts go ([notifiers.NAME]). Notify
// makes one attempt, bounded by the notifier's timeout and by ctx; retrying a
// failed attempt is the outbox's job. Its errors name the notifier and never
// carry a secret (a webhook URL, an HMAC key, a path's password).
type Notifier interface {
	Name() string
	Notify(ctx context.Context, e Event) error
}

// NewNotifier returns the notifier that n describes. cfg supplies the paths an
// email notifier sends through, and paths turns one into what submit takes.
// The config is expected to be valid (see config.Load); NewNotifier still
// refuses what it cannot use.
func NewNotifier(n *config.Notifier, cfg *config.Config, paths PathFunc) (Notifier, error) {
	if n.Timeout <= 0 {
		return nil, fmt.Errorf("notifier %s: timeout must be positive", n.Name)
	}
	switch n.Type {
	case config.NotifyWebhook:
		return newWebhook(n)
	case config.NotifySlack:
		return newSlack(n)
	case config.NotifyCommand:
		return newCommand(n)
	case config.NotifyEmail:
		return newEmail(n, cfg, paths)
	}
	return nil, fmt.Errorf("notifier %s: type %q is not one of webhook, slack, command, email", n.Name, n.Type)
}

// PathFunc turns a configured path into what submit sends over, as the
// runner does for probes (runner.SubmitPath): the same CA pools and OAuth2
// token sources.
type PathFunc func(*config.Path) (submit.Path, error)

// Notifiers returns every notifier of cfg by name. It reports the problems of
// all of them at once.
func Notifiers(cfg *config.Config, paths PathFunc) (map[string]Notifier, error) {
	m := make(map[string]Notifier, len(cfg.Notifiers))
	var errs []error
	for _, name := range sortedKeys(cfg.Notifiers) {
		n, err := NewNotifier(cfg.Notifiers[name], cfg, paths)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m[name] = n
	}
	return m, errors.Join(errs...)
}

// TestEvent is the notification `mailflow alerts test` sends: status "test",
// made at now, from the host named (for the reader to tell which mailflow).
func TestEvent(now time.Time, host string) Event {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	summary := "test notification from mailflow alerts test; no action needed"
	if host != "" {
		summary = "test notification from mailflow alerts test on " + host + "; no action needed"
	}
	now = now.UTC()
	return Event{
		ID: hex.EncodeToString(b[:]), Status: StatusTest, Alert: "test/notifiers/check=test",
		Check: "test", Rule: "notifiers", Kind: "test", Severity: "warning", Group: "check=test",
		Summary: summary, StartsAt: now, At: now,
	}
}

// The text forms of an Event, shared by the Slack and email notifiers.

// label is the status in capitals with the severity: "[FIRING critical]".
func label(e Event) string {
	s := strings.ToUpper(e.Status)
	if e.Severity != "" {
		s += " " + e.Severity
	}
	return "[" + s + "]"
}

// when says over what time the alert stands: "firing since ...", "firing
// from ... to ..." once resolved, "sent at ..." for a test.
func when(e Event) string {
	switch {
	case e.Status == StatusTest:
		return "sent at " + stamp(e.At)
	case e.EndsAt != nil:
		return "firing from " + stamp(e.StartsAt) + " to " + stamp(*e.EndsAt)
	}
	s := "firing since " + stamp(e.StartsAt)
	if e.Repeat > 0 {
		s += fmt.Sprintf(", reminder %d", e.Repeat)
	}
	return s
}

// stamp writes an instant in UTC to the second, as a person reads it.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// ruleKey is "check/rule".
func ruleKey(e Event) string { return e.Check + "/" + e.Rule }
