package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/store"
)

// benchLab starts a lab with seeds and a runner on a fresh store.
func benchLab(b *testing.B, seeds []lab.SeedSpec, concurrency int) (*Runner, *config.Config, *lab.Lab) {
	b.Helper()
	l, err := lab.Start(lab.Options{Seeds: seeds})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	cfg, err := l.Config(filepath.Join(b.TempDir(), "mailflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Checks["demo"].Deadline = 60 * time.Second
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	r := &Runner{Store: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: concurrency}
	b.Cleanup(r.Close)
	return r, cfg, l
}

// round runs the demo check once and fails unless every probe was found.
func round(b *testing.B, r *Runner, cfg *config.Config) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rd, err := r.Run(ctx, cfg, cfg.Checks["demo"])
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range rd.Probes {
		if p.State != store.StateFound {
			b.Fatalf("probe %s/%s %s, want found", p.Path, p.Seed, p.State)
		}
	}
}

// BenchmarkRound runs the demo's round (3 paths x 2 seeds) through the lab:
// composing, DKIM signing, submitting, IDLE detection, verdict and SQLite writes.
func BenchmarkRound(b *testing.B) {
	r, cfg, _ := benchLab(b, []lab.SeedSpec{{Name: "alice", Rule: lab.RuleDeliver}, {Name: "bob", Rule: lab.RuleJunk}}, 0)
	b.ReportAllocs()
	for b.Loop() {
		round(b, r, cfg)
	}
}

// BenchmarkRound1000 runs rounds of 1,000 seeds x 3 paths (3,000 probes)
// through the lab with the default bound of 4 IMAP connections per host, and
// reports the round's wall time, the heap in use at its end (lab included) and
// the most IMAP connections open at once. The first round logs in to every
// seed; later ones reuse the watchers. Run it alone:
// go test -run '^$' -bench Round1000 -benchtime 3x ./internal/runner
func BenchmarkRound1000(b *testing.B) {
	specs := make([]lab.SeedSpec, 1000)
	for i := range specs {
		specs[i] = lab.SeedSpec{Name: fmt.Sprintf("seed%04d", i), Rule: lab.RuleDeliver}
	}
	r, cfg, l := benchLab(b, specs, 16)
	for b.Loop() {
		start := time.Now()
		round(b, r, cfg)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(time.Since(start).Seconds(), "s/round")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
		_, peak := l.IMAPConnections()
		b.ReportMetric(float64(peak), "imap-conns-peak")
	}
}
