package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/store"
)

// Engine evaluates alert rules against the store and delivers their
// notifications. Evaluate only reads probes and writes state, so it is cheap
// enough to run after every round; delivery happens in Run's goroutine, so a
// slow or failing notifier never holds up probing.
type Engine struct {
	Store  *store.DB
	Config *config.Config
	// Notifiers by name; a rule notifies those it names, or all of them.
	Notifiers map[string]Notifier
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	wakeOnce sync.Once
	wake     chan struct{}
	// mu makes evaluations one at a time: the round hook and Run's tick
	// would otherwise both move an alert and both queue its notification.
	mu sync.Mutex
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// alertID names an alert: "check/rule/group".
func alertID(r *config.Rule, group string) string { return r.Key() + "/" + group }

// EvaluateAll evaluates the rules of every check, and forgets the alerts of
// rules no longer in the configuration.
func (e *Engine) EvaluateAll(ctx context.Context) error {
	if err := e.forgetRemoved(ctx); err != nil {
		return err
	}
	for _, name := range sortedKeys(e.Config.Checks) {
		if err := e.Evaluate(ctx, e.Config.Checks[name]); err != nil {
			return err
		}
	}
	return nil
}

// forgetRemoved deletes the alerts of rules that left the configuration: no
// rule judges them any more, and a rule added again later starts afresh. A
// firing one is logged, since no resolve will come for it.
func (e *Engine) forgetRemoved(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rows, err := e.Store.AlertRows(ctx)
	if err != nil {
		return err
	}
	rules := e.rules()
	for _, a := range rows {
		if rules[a.Check+"/"+a.Rule] != nil {
			continue
		}
		if a.Status == StatusFiring {
			e.log().Warn("alert dropped: its rule is no longer in the config; no resolve will be sent", "alert", a.Alert)
		}
		if err := e.Store.SaveAlert(ctx, a, true, nil); err != nil {
			return err
		}
	}
	return nil
}

// rules are the configured rules by "check/rule".
func (e *Engine) rules() map[string]*config.Rule {
	out := map[string]*config.Rule{}
	for _, c := range e.Config.Checks {
		for _, r := range c.Alerts {
			out[r.Key()] = r
		}
	}
	return out
}

// Evaluate judges the rules of check against its stored probes and moves
// each alert along: pending while the condition holds for less than `for`,
// firing (notified, then again every renotify), resolved once the condition
// has been false for resolve_after. Notifications are queued with the state
// that caused them, in one transaction.
func (e *Engine) Evaluate(ctx context.Context, check *config.Check) error {
	if len(check.Alerts) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	// Rules look at the latest rounds (an smtp rule at its last `consecutive`
	// submissions per group: a round has one per path and seed) and at windows.
	rounds, window := 2, time.Duration(0)
	for _, r := range check.Alerts {
		if r.Kind == config.RuleSMTP {
			rounds = max(rounds, r.Consecutive)
		}
		window = max(window, r.Window)
	}
	minRound, err := e.Store.NthLatestRound(ctx, check.Name, rounds)
	if err != nil {
		return fmt.Errorf("alerts of check %s: %w", check.Name, err)
	}
	var since time.Time
	if window > 0 {
		since = now.Add(-window)
	}
	probes, err := e.Store.CheckProbes(ctx, check.Name, minRound, since)
	if err != nil {
		return fmt.Errorf("alerts of check %s: %w", check.Name, err)
	}
	stored, err := e.Store.AlertRows(ctx)
	if err != nil {
		return err
	}
	rows := map[string]store.AlertRow{}
	for _, a := range stored {
		rows[a.Alert] = a
	}
	queued := false
	for _, r := range check.Alerts {
		findings := judge(r, probes, now)
		seen := map[string]bool{}
		for _, f := range findings {
			seen[f.group] = true
		}
		// A group with no probe to judge any more holds no condition.
		for _, a := range stored {
			if a.Check == r.Check && a.Rule == r.Name && !seen[a.Group] {
				findings = append(findings, finding{group: a.Group, summary: "no probe to judge"})
			}
		}
		for _, f := range findings {
			id := alertID(r, f.group)
			if prev := rows[id].Status; f.persists && (prev == StatusPending || prev == StatusFiring) {
				// What made the alert is still so, though the probes that
				// showed it are no longer in view (see finding.persists).
				f.bad, f.summary, f.value, f.probes = true, rows[id].Summary, rows[id].Value, rows[id].Probes
			}
			row, act, notes, err := e.step(r, f, rows[id], now)
			if err != nil {
				return err
			}
			if act == keep {
				continue
			}
			if err := e.Store.SaveAlert(ctx, row, act == remove, notes); err != nil {
				return err
			}
			queued = queued || len(notes) > 0
		}
	}
	if queued {
		e.poke()
	}
	return nil
}

// What step does with an alert's stored row.
type action int

const (
	keep   action = iota // unchanged
	save                 // write the new row
	remove               // the alert is back to nothing: delete its row
)

// step moves one alert given what its rule found now. It returns the new row,
// what to do with it, and the notifications to queue.
func (e *Engine) step(r *config.Rule, f finding, row store.AlertRow, now time.Time) (store.AlertRow, action, []store.Notification, error) {
	if row.Alert == "" {
		row = store.AlertRow{Alert: alertID(r, f.group), Check: r.Check, Rule: r.Name, Group: f.group}
	}
	log := e.log().With("alert", row.Alert)
	var status string // the notification to make, if any
	if f.bad {
		row.Summary, row.Value, row.Threshold, row.Probes = f.summary, f.value, f.threshold, f.probes
		row.ClearSince = time.Time{}
		if row.Status == "" || row.Status == StatusResolved {
			row.Status, row.Since, row.ActiveSince = StatusPending, now, now
			log.Info("alert pending", "summary", f.summary, "for", r.For)
		}
		switch {
		case row.Status == StatusPending && now.Sub(row.ActiveSince) >= r.For:
			row.Status, row.Since, row.StartedAt, row.Repeats = StatusFiring, now, now, 0
			status = StatusFiring
		case row.Status == StatusFiring && r.Renotify > 0 && now.Sub(row.NotifiedAt) >= r.Renotify:
			row.Repeats++
			status = StatusFiring
		}
	} else {
		switch row.Status {
		case "":
			return row, keep, nil, nil
		case StatusPending:
			log.Info("alert no longer pending", "summary", f.summary)
			return row, remove, nil, nil
		case StatusFiring:
			if !row.ClearSince.IsZero() && now.Sub(row.ClearSince) < r.ResolveAfter {
				return row, keep, nil, nil
			}
			if row.ClearSince.IsZero() {
				row.ClearSince = now
			}
			if now.Sub(row.ClearSince) >= r.ResolveAfter {
				row.Status, row.Since, row.ActiveSince = StatusResolved, now, time.Time{}
				status = StatusResolved
			}
		default: // resolved stays resolved
			return row, keep, nil, nil
		}
	}
	if status == "" {
		return row, save, nil, nil
	}
	row.NotifiedAt = now
	ev := Event{Status: status, Alert: row.Alert, Check: r.Check, Rule: r.Name, Kind: r.Kind, Severity: r.Severity,
		Group: row.Group, Summary: row.Summary, Value: row.Value, Threshold: row.Threshold, Probes: row.Probes,
		StartsAt: row.StartedAt, Repeat: row.Repeats, At: now}
	if status == StatusResolved {
		ev.EndsAt = &now
		ev.Summary = "resolved: " + row.Summary
		ev.Repeat = 0
	}
	ev.ID = fmt.Sprintf("%s@%d/%s/%d", row.Alert, row.StartedAt.Unix(), status, ev.Repeat)
	log.Warn("alert "+status, "summary", row.Summary, "repeat", ev.Repeat)
	body, err := json.Marshal(ev)
	if err != nil {
		return row, keep, nil, err
	}
	var notes []store.Notification
	for _, name := range e.targets(r) {
		notes = append(notes, store.Notification{Alert: row.Alert, Notifier: name, Event: string(body), CreatedAt: now, NextAt: now})
	}
	return row, save, notes, nil
}

// targets are the notifiers a rule's alerts go to.
func (e *Engine) targets(r *config.Rule) []string {
	if len(r.Notify) > 0 {
		return r.Notify
	}
	return sortedKeys(e.Config.Notifiers)
}

// States returns every alert of a rule still in the configuration.
func (e *Engine) States(ctx context.Context) ([]State, error) {
	rows, err := e.Store.AlertRows(ctx)
	if err != nil {
		return nil, err
	}
	rules := e.rules()
	out := []State{}
	for _, a := range rows {
		r := rules[a.Check+"/"+a.Rule]
		if r == nil {
			continue
		}
		out = append(out, State{Alert: a.Alert, Check: a.Check, Rule: a.Rule, Kind: r.Kind, Severity: r.Severity,
			Group: a.Group, Status: a.Status, Since: a.Since, Summary: a.Summary, Value: a.Value, Notified: a.NotifiedAt})
	}
	return out, nil
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

func sortedKeys[T any](m map[string]T) []string {
	return slices.Sorted(maps.Keys(m))
}
