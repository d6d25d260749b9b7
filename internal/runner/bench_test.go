package runner

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/store"
)

// BenchmarkRound runs the demo's round (3 paths x 2 seeds) through the lab:
// composing, DKIM signing, submitting, IDLE detection, verdict and SQLite writes.
func BenchmarkRound(b *testing.B) {
	l, err := lab.Start(lab.Options{Seeds: []lab.SeedSpec{{Name: "alice", Rule: lab.RuleDeliver}, {Name: "bob", Rule: lab.RuleJunk}}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	cfg, err := l.Config(filepath.Join(b.TempDir(), "mailflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := &Runner{Store: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		round, err := r.Run(ctx, cfg, cfg.Checks["demo"])
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range round.Probes {
			if p.State != store.StateFound {
				b.Fatalf("probe %s/%s %s, want found", p.Path, p.Seed, p.State)
			}
		}
	}
}
