package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The report query must read the covering index alone: the probes' wide rows
// (headers, transcripts) would cost a million page reads, and a temporary
// B-tree would sort every row.
func TestReportQueryPlan(t *testing.T) {
	db := openTest(t)
	for by, col := range groupColumns {
		for _, check := range []bool{false, true} {
			if plan := reportPlan(t, db, col, check); len(plan) != 1 ||
				!strings.HasPrefix(plan[0], "SEARCH probes USING COVERING INDEX probes_report (created_at>?)") {
				t.Errorf("by %s, check filter %v: plan %q, want one search of the covering index probes_report", by, check, plan)
			}
		}
	}
}

func reportPlan(t *testing.T, db *DB, col string, check bool) []string {
	t.Helper()
	args := []any{int64(0), ""}
	if check {
		args = append(args, "default")
	}
	rows, err := db.db.Query("EXPLAIN QUERY PLAN "+reportQuery(col, check), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// A store made before probes_report held reportClass gets the new index, with
// the probes it already has.
func TestReportIndexUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(migrations, func(m string) bool { return strings.HasPrefix(m, "DROP INDEX probes_report;") })
	if before < 0 {
		t.Fatal("no migration rebuilds probes_report")
	}
	for _, q := range append(migrations[:before:before], fmt.Sprintf("PRAGMA user_version = %d", before),
		`INSERT INTO rounds (id, check_name, started_at) VALUES (1, 'default', '')`,
		`INSERT INTO probes (round_id, token, check_name, path, seed, seed_address, state, placement, created_at,
			deadline_at, latency_ms, spf, dkim, dmarc, tls_version)
			VALUES (1, 'a', 'default', 'relay', 'alice', '', 'found', 'tab:social', '2026-11-23T08:00:00.000000000Z',
			'', 12.5, 'pass', 'fail', 'pass', 'TLS 1.3')`) {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.ReportTallies(context.Background(), time.Time{}, "", "path")
	want := ReportTally{Key: "relay", Sent: 1, Accepted: 1, Tab: 1, TLS: 1, Found: 1, SPF: 1, DMARC: 1,
		RTT: []LatencyBucket{{MaxMS: 12.5, N: 1}}}
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("ReportTallies after the upgrade = %+v, %v, want %+v", got, err, want)
	}
	if plan := reportPlan(t, db, "path", false); len(plan) != 1 || !strings.Contains(plan[0], "COVERING INDEX probes_report") {
		t.Errorf("plan after the upgrade %q, want the covering index probes_report", plan)
	}
}

func TestReportTallies(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	round, err := db.StartRound(ctx, "default", now)
	if err != nil {
		t.Fatal(err)
	}
	for i, rtt := range []time.Duration{30 * time.Millisecond, 10200 * time.Microsecond, 10700 * time.Microsecond, -1500 * time.Microsecond} {
		p := Probe{RoundID: round, Token: strings.Repeat("0", 31) + string(rune('a'+i)), Check: "default", Path: "relay",
			Seed: "alice", CreatedAt: now, DeadlineAt: now.Add(time.Minute)}
		if err := db.InsertProbe(ctx, &p); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordFound(ctx, p.ID, "inbox", Sighting{Latency: rtt}, Auth{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ReportTallies(ctx, time.Time{}, "", "seed")
	if err != nil {
		t.Fatal(err)
	}
	// One bucket per millisecond [k, k+1), each with its longest round trip.
	want := []LatencyBucket{{MaxMS: -1.5, N: 1}, {MaxMS: 10.7, N: 2}, {MaxMS: 30, N: 1}}
	if len(got) != 1 || got[0].Key != "alice" || got[0].Found != 4 || !slices.Equal(got[0].RTT, want) {
		t.Errorf("ReportTallies = %+v, want alice with 4 found in buckets %v", got, want)
	}
	if got, err := db.ReportTallies(ctx, now.Add(time.Nanosecond), "", "seed"); err != nil || len(got) != 0 {
		t.Errorf("ReportTallies after the last probe = %+v, %v, want none", got, err)
	}
	if _, err := db.ReportTallies(ctx, time.Time{}, "", "color"); err == nil || !strings.Contains(err.Error(), "use path, seed, provider or check") {
		t.Errorf("ReportTallies by color = %v, want an error naming the columns", err)
	}
	tallyRuns.mu.Lock()
	defer tallyRuns.mu.Unlock()
	if n := len(tallyRuns.m); n != 0 {
		t.Errorf("%d report runs left registered, want 0", n)
	}
}
