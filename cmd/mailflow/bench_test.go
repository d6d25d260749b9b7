package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/store"
)

// BenchmarkProcessRound1000 runs `mailflow probe` as a process of its own
// against the lab — 1,000 seeds x 3 paths, 3,000 probes, default settings (4
// SMTP connections per path, 4 IMAP connections per host) — and reports the
// round's wall time and mailflow's peak resident memory. The lab stays in the
// benchmark's process, so the RSS is mailflow's alone (a test binary standing
// in for mailflow, slightly larger than the real one). Run it alone:
// go test -run '^$' -bench ProcessRound1000 -benchtime 3x ./cmd/mailflow
func BenchmarkProcessRound1000(b *testing.B) {
	specs := make([]lab.SeedSpec, 1000)
	names := make([]string, len(specs))
	for i := range specs {
		names[i] = fmt.Sprintf("seed%04d", i)
		specs[i] = lab.SeedSpec{Name: names[i], Rule: lab.RuleDeliver}
	}
	l, err := lab.Start(lab.Options{Seeds: specs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	cfg := labConfigPaths(b, l, []string{"submission", "relay", "smtps"}, "[checks.bench]\ndeadline = \"60s\"\n", names...)
	for b.Loop() {
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], "probe", "--config", cfg, "--log-level", "warn")
		cmd.Env = append(os.Environ(), "MAILFLOW_TEST_AS_MAIN=1")
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("mailflow probe: %v (want exit 0: every probe in the inbox)\n%s", err, stderr.String())
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/round")
		// Maxrss is in KiB on Linux.
		b.ReportMetric(float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)/1024, "MB-peak-RSS")
	}
	_, peak := l.IMAPConnections()
	b.ReportMetric(float64(peak), "imap-conns-peak")
}

// BenchmarkReport1M runs `mailflow report --since 0` over a store of
// 1,000,000 probes (3 paths x 50 seeds, 95% inbox, round trips of 0-999 ms).
// Run it alone: go test -run '^$' -bench Report1M -benchtime 3x ./cmd/mailflow
func BenchmarkReport1M(b *testing.B) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	cfg := labConfigPaths(b, l, []string{"submission"}, "[checks.bench]\n", "alice")
	dbPath := filepath.Join(filepath.Dir(cfg), "mailflow.db")
	st, err := store.Open(dbPath) // creates the schema
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, q := range []string{
		`INSERT INTO rounds (id, check_name, started_at) VALUES (1, 'bench', '` + now + `')`,
		`INSERT INTO probes (round_id, token, check_name, path, seed, seed_address, provider, state, placement,
			created_at, deadline_at, latency_ms, spf, dkim, dmarc, tls_version, smtp_outcome)
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
		SELECT 1, printf('%032x', i), 'bench', CASE i % 3 WHEN 0 THEN 'relay' WHEN 1 THEN 'submission' ELSE 'smtps' END,
			'seed' || (i % 50), 'seed' || (i % 50) || '@example.net', 'generic', 'found',
			CASE WHEN i % 20 = 0 THEN 'spam' ELSE 'inbox' END, '` + now + `', '` + now + `', (i % 1000) * 1.0,
			'pass', 'pass', CASE WHEN i % 10 = 0 THEN 'fail' ELSE 'pass' END, 'TLS 1.3', 'accepted' FROM n`,
	} {
		if _, err := raw.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	raw.Close()
	b.ResetTimer()
	for b.Loop() {
		code, out, errOut := mailflow(b, "report", "--config", cfg, "--since", "0", "--by", "path")
		if code != exitOK || !strings.Contains(out, "submission") {
			b.Fatalf("report = %d\n%s%s", code, out, errOut)
		}
	}
}
