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

	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/store"
)

// BenchmarkRound1000 runs one round of 1,000 seeds x 3 paths (3,000 probes)
// through the lab and reports the round's wall time and the heap in use at
// its end. Run it alone: go test -run '^$' -bench Round1000 -benchtime 1x ./internal/runner
func BenchmarkRound1000(b *testing.B) {
	specs := make([]lab.SeedSpec, 1000)
	for i := range specs {
		specs[i] = lab.SeedSpec{Name: fmt.Sprintf("seed%04d", i), Rule: lab.RuleDeliver}
	}
	l, err := lab.Start(lab.Options{Seeds: specs})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	cfg, err := l.Config(filepath.Join(b.TempDir(), "mailflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Checks["demo"].Deadline = 60 * time.Second
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := &Runner{Store: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Concurrency: 16}
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		start := time.Now()
		round, err := r.Run(ctx, cfg, cfg.Checks["demo"])
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		found := 0
		for _, p := range round.Probes {
			if p.State == store.StateFound {
				found++
			}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(time.Since(start).Seconds(), "s/round")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
		b.ReportMetric(float64(found), "found")
	}
}
