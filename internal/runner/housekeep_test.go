package runner

import (
	"context"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

func TestHousekeep(t *testing.T) {
	l, cfg := newLab(t, "alice")
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	alice := cfg.Seeds["alice"]
	// A probe that ended missing but whose message turned up after the run,
	// and a stranger's probe in the same box.
	late := crashedProbe(t, db, alice, store.StateSent, time.Minute)
	if err := db.Finish(ctx, late.ID, store.StateMissing, "missing", "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	deliverProbe(t, l, "alice", late.Token)
	stranger := "ffffffffffffffffffffffffffffffff"
	deliverProbe(t, l, "alice", stranger)

	cfg.Housekeeping.PurgeAfter = time.Nanosecond // everything delivered is "old"
	cfg.Housekeeping.Retention = 0
	r := &Runner{Store: db, Log: testLog(t)}
	defer r.Close()
	if err := r.Housekeep(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Count("alice", "INBOX"); n != 1 {
		t.Errorf("alice's INBOX holds %d messages after housekeeping, want 1 (the stranger's)", n)
	}
	cfg.Housekeeping.Retention = time.Nanosecond
	if err := r.Housekeep(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.ProbeCount(ctx); n != 0 {
		t.Errorf("probes after pruning with a tiny retention = %d, want 0", n)
	}
}
