package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// AlertRow is the stored state of one alert: a rule of a check applied to one
// group of its probes. The alert package decides; the store only keeps.
type AlertRow struct {
	Alert, Check, Rule, Group string
	Status                    string
	Since                     time.Time // entered Status
	ActiveSince               time.Time // the condition has held since (zero: it does not)
	ClearSince                time.Time // firing, but the condition has been false since (zero: it holds)
	StartedAt                 time.Time // began firing
	NotifiedAt                time.Time // last notification
	Repeats                   int
	Summary                   string
	Value, Threshold          float64
	Probes                    []string
}

// Notification is one event to deliver through one notifier.
type Notification struct {
	ID        int64
	Alert     string
	Notifier  string
	Event     string // JSON
	CreatedAt time.Time
	Attempts  int
	NextAt    time.Time
}

// Notification outcomes.
const (
	NotificationSent   = "sent"
	NotificationFailed = "failed" // gave up
)

// AlertRows returns every stored alert.
func (d *DB) AlertRows(ctx context.Context) ([]AlertRow, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT alert, check_name, rule, grp, status, since, active_since,
		clear_since, started_at, notified_at, repeats, summary, value, threshold, probes FROM alerts ORDER BY alert`)
	if err != nil {
		return nil, fmt.Errorf("alert states: %w", err)
	}
	defer rows.Close()
	var out []AlertRow
	for rows.Next() {
		var a AlertRow
		var since, active, clear, started, notified sql.NullString
		var probes string
		if err := rows.Scan(&a.Alert, &a.Check, &a.Rule, &a.Group, &a.Status, &since, &active, &clear, &started,
			&notified, &a.Repeats, &a.Summary, &a.Value, &a.Threshold, &probes); err != nil {
			return nil, fmt.Errorf("alert states: %w", err)
		}
		a.Since, a.ActiveSince, a.ClearSince = parseTS(since), parseTS(active), parseTS(clear)
		a.StartedAt, a.NotifiedAt = parseTS(started), parseTS(notified)
		if probes != "" {
			a.Probes = strings.Split(probes, " ")
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveAlert writes an alert's state, or deletes it when remove is set, and
// queues its notifications, all in one transaction: a notification is queued
// exactly when the state that caused it is stored.
func (d *DB) SaveAlert(ctx context.Context, a AlertRow, remove bool, notes []Notification) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if remove {
			_, err = tx.ExecContext(ctx, `DELETE FROM alerts WHERE alert = ?`, a.Alert)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO alerts (alert, check_name, rule, grp, status, since,
				active_since, clear_since, started_at, notified_at, repeats, summary, value, threshold, probes)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				a.Alert, a.Check, a.Rule, a.Group, a.Status, ts(a.Since), ts(a.ActiveSince), ts(a.ClearSince),
				ts(a.StartedAt), ts(a.NotifiedAt), a.Repeats, a.Summary, a.Value, a.Threshold, strings.Join(a.Probes, " "))
		}
		if err != nil {
			return err
		}
		for _, n := range notes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (alert, notifier, event, created_at, next_at)
				VALUES (?, ?, ?, ?, ?)`, n.Alert, n.Notifier, n.Event, ts(n.CreatedAt), ts(n.NextAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save alert %s: %w", a.Alert, err)
	}
	return nil
}

// DueNotifications returns up to limit undelivered notifications due at now,
// oldest first.
func (d *DB) DueNotifications(ctx context.Context, now time.Time, limit int) ([]Notification, error) {
	// An alert's notifications reach each notifier in the order they were
	// made: one waits while an older one of the same alert is undelivered,
	// so a resolve never overtakes the firing it ends.
	rows, err := d.db.QueryContext(ctx, `SELECT id, alert, notifier, event, created_at, attempts, next_at
		FROM notifications n WHERE done_at IS NULL AND next_at <= ? AND NOT EXISTS (SELECT 1 FROM notifications o
			WHERE o.done_at IS NULL AND o.notifier = n.notifier AND o.alert = n.alert AND o.id < n.id)
		ORDER BY next_at, id LIMIT ?`, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var created, next sql.NullString
		if err := rows.Scan(&n.ID, &n.Alert, &n.Notifier, &n.Event, &created, &n.Attempts, &next); err != nil {
			return nil, fmt.Errorf("due notifications: %w", err)
		}
		n.CreatedAt, n.NextAt = parseTS(created), parseTS(next)
		out = append(out, n)
	}
	return out, rows.Err()
}

// NextNotification returns when the next undelivered notification is due
// (zero when none is waiting).
func (d *DB) NextNotification(ctx context.Context) (time.Time, error) {
	var next sql.NullString
	err := d.db.QueryRowContext(ctx, `SELECT MIN(next_at) FROM notifications WHERE done_at IS NULL`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next notification: %w", err)
	}
	return parseTS(next), nil
}

// NotificationDone records a delivery attempt. With outcome "" the
// notification stays queued and is tried again at next; otherwise it is done
// (sent, or failed for good).
func (d *DB) NotificationDone(ctx context.Context, id int64, at time.Time, outcome, lastErr string, next time.Time) error {
	var done any
	if outcome != "" {
		done = ts(at)
	}
	return oneRow(d.db.ExecContext(ctx, `UPDATE notifications SET attempts = attempts + 1, done_at = ?, outcome = ?,
		last_error = ?, next_at = COALESCE(?, next_at) WHERE id = ?`, done, outcome, lastErr, ts(next), id))
}

// NthLatestRound returns the id of the n-th latest finished round of check
// (0 when there are fewer): alert rules look at the probes of the latest rounds.
func (d *DB) NthLatestRound(ctx context.Context, check string, n int) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, `SELECT id FROM rounds WHERE check_name = ? AND finished_at IS NOT NULL
		ORDER BY id DESC LIMIT 1 OFFSET ?`,
		check, n-1).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rounds of %s: %w", check, err)
	}
	return id, nil
}

// CheckProbes returns the probes of the finished rounds of check that are
// round minRound or a later one, or were created at or after since, oldest
// first, without their stages and header rows. Alert rules judge them: a
// round still running would show its fast results before its slow ones.
func (d *DB) CheckProbes(ctx context.Context, check string, minRound int64, since time.Time) ([]Probe, error) {
	return d.queryProbeList(ctx, `WHERE check_name = ? AND state NOT IN (?, ?) AND (round_id >= ? OR created_at >= ?)
		AND round_id IN (SELECT id FROM rounds WHERE check_name = ? AND finished_at IS NOT NULL)
		ORDER BY created_at, id`, check, StatePending, StateSent, minRound, ts(since), check)
}
