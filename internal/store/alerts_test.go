package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAlertsPruned: housekeeping deletes delivered notifications and
// resolved alerts older than the retention, and keeps the rest.
func TestAlertsPruned(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	note := func(alert string) []Notification {
		return []Notification{{Alert: alert, Notifier: "hook", Event: "{}", CreatedAt: t0, NextAt: t0}}
	}
	for _, a := range []AlertRow{
		{Alert: "c/r/old", Check: "c", Rule: "r", Group: "old", Status: "resolved", Since: t0},
		{Alert: "c/r/firing", Check: "c", Rule: "r", Group: "firing", Status: "firing", Since: t0},
	} {
		if err := db.SaveAlert(ctx, a, false, note(a.Alert)); err != nil {
			t.Fatal(err)
		}
	}
	due, err := db.DueNotifications(ctx, t0, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due = %v, %v; want 2", due, err)
	}
	if err := db.NotificationDone(ctx, due[0].ID, t0, NotificationSent, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prune(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rows, _ := db.AlertRows(ctx)
	if len(rows) != 1 || rows[0].Alert != "c/r/firing" {
		t.Errorf("alerts after prune = %+v, want only the firing one", rows)
	}
	var n int
	db.db.QueryRowContext(ctx, `SELECT count(*) FROM notifications`).Scan(&n)
	if n != 1 {
		t.Errorf("notifications after prune = %d, want 1 (the undelivered one)", n)
	}
}

// TestProbeListColumns: lists read every column but the two wide ones.
func TestProbeListColumns(t *testing.T) {
	for _, want := range []string{"'' AS transcript,", "'' AS headers,", "analysis"} {
		if !strings.Contains(probeListColumns, want) {
			t.Errorf("probeListColumns lacks %q: %s", want, probeListColumns)
		}
	}
}
