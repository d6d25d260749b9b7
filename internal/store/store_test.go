package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestProbeLifecycle(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)
	round, err := db.StartRound(ctx, "default", now)
	if err != nil {
		t.Fatal(err)
	}
	p := Probe{RoundID: round, Token: "00112233445566778899aabbccddeeff", Check: "default", Path: "submission",
		Seed: "alice", SeedAddress: "alice@example.net", Provider: "generic", CreatedAt: now, DeadlineAt: now.Add(time.Minute)}
	if err := db.InsertProbe(ctx, &p); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertProbe(ctx, &p); err == nil {
		t.Error("second InsertProbe with the same token succeeded, want a unique-token error")
	}
	sub := Submission{StartedAt: now, Duration: 12 * time.Millisecond, AcceptedAt: now.Add(12 * time.Millisecond),
		Outcome: "accepted", Stage: "data", Code: 250, EnhancedCode: "2.0.0", QueueID: "Q1", TLSVersion: "TLS 1.3"}
	stages := []Stage{{Stage: "connect", StartedAt: now, Duration: time.Millisecond}, {Stage: "data", StartedAt: now, Code: 250, EnhancedCode: "2.0.0", Text: "Ok"}}
	if err := db.RecordSubmission(ctx, p.ID, StateSent, "", sub, stages, now); err != nil {
		t.Fatal(err)
	}
	seen := Sighting{FoundAt: now.Add(80 * time.Millisecond), Folder: "INBOX", FolderRole: "inbox", UID: 7,
		InternalDate: now, Latency: 80 * time.Millisecond, Flags: []string{`\Seen`}, Headers: "Subject: x\r\n"}
	rows := []AuthRow{{HeaderIndex: 0, AuthservID: "mx.example", Trusted: true, Method: "dkim", Result: "pass", Props: "header.d=example.com"}}
	if err := db.RecordFound(ctx, p.ID, "inbox", seen, Auth{AuthservID: "mx.example", SPF: "pass", DKIM: "pass", DMARC: "pass"}, rows); err != nil {
		t.Fatal(err)
	}
	// A final probe never changes state again: that would count it twice.
	if err := db.Finish(ctx, p.ID, StateMissing, "missing", "late", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("Finish on a found probe = %v, want ErrNotFound", err)
	}
	got, err := db.ProbeByToken(ctx, p.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateFound || got.Placement != "inbox" || got.Sighting.UID != 7 || got.Sighting.Latency != 80*time.Millisecond {
		t.Errorf("stored probe = state %s placement %s uid %d latency %s, want found inbox 7 80ms",
			got.State, got.Placement, got.Sighting.UID, got.Sighting.Latency)
	}
	if !got.CreatedAt.Equal(now) {
		t.Errorf("CreatedAt = %s, want %s (nanoseconds kept)", got.CreatedAt, now)
	}
	if got.Submission.QueueID != "Q1" || len(got.Stages) != 2 || got.Stages[1].EnhancedCode != "2.0.0" {
		t.Errorf("submission = %+v stages %+v, want queue id Q1 and 2 stages", got.Submission, got.Stages)
	}
	if len(got.AuthRows) != 1 || got.AuthRows[0].Props != "header.d=example.com" || !got.AuthRows[0].Trusted {
		t.Errorf("auth rows = %+v, want the one stored", got.AuthRows)
	}
	if s, err := db.IntegrityCheck(ctx); err != nil || s != "ok" {
		t.Errorf("IntegrityCheck = %q, %v, want ok", s, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.StartRound(ctx, "c", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.db.QueryRowContext(ctx, "SELECT count(*) FROM rounds WHERE id = ?", id).Scan(&n); err != nil || n != 1 {
		t.Errorf("rounds after reopen = %d, %v, want 1", n, err)
	}
	var mode string
	if err := db.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v, want wal", mode, err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	insert := func(age time.Duration, final bool) Probe {
		round, err := db.StartRound(ctx, "c", now.Add(-age))
		if err != nil {
			t.Fatal(err)
		}
		p := Probe{RoundID: round, Token: fmt.Sprintf("%032x", age), Check: "c", Path: "p", Seed: "s", SeedAddress: "s@x",
			CreatedAt: now.Add(-age), DeadlineAt: now.Add(-age + time.Minute)}
		if err := db.InsertProbe(ctx, &p); err != nil {
			t.Fatal(err)
		}
		stages := []Stage{{Stage: "connect", StartedAt: now}}
		state := StateSent
		if final {
			state = StateRejected
		}
		if err := db.RecordSubmission(ctx, p.ID, state, "", Submission{}, stages, now); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := insert(100*24*time.Hour, true)
	oldUnfinished := insert(101*24*time.Hour, false)
	recent := insert(time.Hour, true)
	n, err := db.Prune(ctx, now.Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v, want 1", n, err)
	}
	if _, err := db.ProbeByToken(ctx, old.Token); !errors.Is(err, ErrNotFound) {
		t.Errorf("old final probe still there: %v", err)
	}
	for _, p := range []Probe{oldUnfinished, recent} {
		if _, err := db.ProbeByToken(ctx, p.Token); err != nil {
			t.Errorf("probe %s was pruned: %v", p.Token, err)
		}
	}
	var stages int
	db.db.QueryRowContext(ctx, `SELECT count(*) FROM smtp_stages WHERE probe_id = ?`, old.ID).Scan(&stages)
	if stages != 0 {
		t.Errorf("stages of the pruned probe = %d, want 0 (cascade)", stages)
	}
	if ok, _ := db.Final(ctx, recent.Token); !ok {
		t.Error("Final(recent rejected probe) = false, want true")
	}
	if ok, _ := db.Final(ctx, oldUnfinished.Token); ok {
		t.Error("Final(sent probe) = true, want false")
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	db.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	if v != len(migrations) {
		t.Errorf("user_version = %d, want %d", v, len(migrations))
	}
	// A database from a newer mailflow is refused, not damaged.
	db.db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
	db.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "upgrade mailflow") {
		t.Errorf("Open of a newer schema = %v, want an error saying to upgrade", err)
	}
}
