package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
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
