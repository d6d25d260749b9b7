//go:build integration

package main

// Benchmarks against the real stack (make integration brings it up; run them
// with the stack up, see README "Benchmarks"):
//
//	go test -tags integration -run '^$' -bench Stack -benchtime 1x ./cmd/mailflow

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/report"
)

// rounds of 5 seeds: 50 probes per path.
const benchRounds = 10

// BenchmarkStackDetection measures detection overhead: from the moment
// Dovecot's LMTP stored a probe (its log, in microseconds) to the moment
// mailflow's search returned it, over 50 probes per path (3 paths, 5 seeds,
// 10 rounds), with IDLE, with IDLE and fast_poll = "25ms", and with polling at
// the default 10 s interval.
func BenchmarkStackDetection(b *testing.B) {
	env := stackEnv(b)
	for _, mode := range []struct{ name, seedKeys string }{
		{"idle", ""}, {"fast_poll", "fast_poll = \"25ms\"\n"}, {"poll", "idle = false\n"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			// 5 seeds x inbox and junk: 10 connections, all idling. With the
			// default bound of 4 per host they would take turns instead.
			cfg := stackConfig(b, env, `[imap]
connections_per_host = 10

[checks.bench]
paths = ["submission", "smtps", "relay"]
seeds = ["seed1", "seed2", "seed3", "seed4", "seed5"]
deadline = "60s"
`, mode.seedKeys)
			for b.Loop() {
				var found []report.ProbeJSON
				for range benchRounds {
					for _, p := range probeStack(b, cfg) {
						if p.State != "found" {
							b.Fatalf("%s/%s: %s (%s)", p.Path, p.Seed, p.State, p.Error)
						}
						found = append(found, p)
					}
				}
				stored := storedTimes(b, env["STACK_DOVECOT_LOG"])
				var overhead []float64
				for _, p := range found {
					at, ok := stored[p.Token]
					if !ok {
						b.Fatalf("no delivery of %s in Dovecot's log", p.Token)
					}
					overhead = append(overhead, ms(p.Found.At.Sub(at)))
				}
				b.ReportMetric(float64(len(overhead)), "probes")
				b.ReportMetric(percentile(overhead, 50), "detect-p50-ms")
				b.ReportMetric(percentile(overhead, 99), "detect-p99-ms")
				b.ReportMetric(slices.Min(overhead), "detect-min-ms")
			}
		})
	}
}

// BenchmarkStackRoundTrip compares mailflow's round trip (submission start to
// found) with a baseline of standard tools doing the same send and find: swaks
// submitting on 587 with STARTTLS and AUTH, and a minimal IMAP watcher
// written with Python's imaplib searching every 5 ms (testdata/stack/imapwait.py).
// 50 of each, one after another.
func BenchmarkStackRoundTrip(b *testing.B) {
	env := stackEnv(b)
	const check = `[imap]
connections_per_host = 10

[checks.bench]
paths = ["submission"]
seeds = ["seed1", "seed2", "seed3", "seed4", "seed5"]
deadline = "60s"
`
	for b.Loop() {
		base := baseline(b, env, 5*benchRounds)
		b.ReportMetric(percentile(base, 50), "baseline-p50-ms")
		b.ReportMetric(percentile(base, 99), "baseline-p99-ms")
		for _, mode := range []struct{ name, seedKeys string }{{"idle", ""}, {"fast", "fast_poll = \"10ms\"\n"}} {
			cfg := stackConfig(b, env, check, mode.seedKeys)
			var mf []float64
			for range benchRounds {
				for _, p := range probeStack(b, cfg) {
					if p.State != "found" || p.LatencyMS == nil {
						b.Fatalf("%s/%s: %s (%s)", p.Path, p.Seed, p.State, p.Error)
					}
					mf = append(mf, *p.LatencyMS)
				}
			}
			b.ReportMetric(percentile(mf, 50), mode.name+"-p50-ms")
			b.ReportMetric(percentile(mf, 99), mode.name+"-p99-ms")
			b.ReportMetric(percentile(mf, 50)/percentile(base, 50), mode.name+"-ratio-p50")
		}
	}
}

// baseline times n sends with swaks, each found by imapwait.py.
func baseline(b *testing.B, env map[string]string, n int) []float64 {
	b.Helper()
	seed := "seed4@seeds.test"
	watcher := exec.Command("python3", "../../testdata/stack/imapwait.py", "127.0.0.1", env["STACK_IMAPS"], env["STACK_CA"],
		seed, env["STACK_SEED_PASSWORD"])
	in, _ := watcher.StdinPipe()
	outPipe, _ := watcher.StdoutPipe()
	watcher.Stderr = os.Stderr
	if err := watcher.Start(); err != nil {
		b.Fatalf("start imapwait.py: %v", err)
	}
	defer watcher.Wait()
	defer in.Close()
	out := bufio.NewScanner(outPipe)
	if !out.Scan() || out.Text() != "ready" {
		b.Fatalf("imapwait.py did not log in: %q", out.Text())
	}
	var times []float64
	for range n {
		tok := make([]byte, 16)
		rand.Read(tok)
		token := hex.EncodeToString(tok)
		fmt.Fprintln(in, token)
		start := time.Now()
		swaks := exec.Command("swaks", "--silent", "2", "--server", "127.0.0.1", "--port", env["STACK_SUBMISSION"], "--tls",
			"--auth", "PLAIN", "--auth-user", env["STACK_SUBMIT_USER"], "--auth-password", env["STACK_SUBMIT_PASSWORD"],
			"--from", env["STACK_SUBMIT_USER"], "--to", seed, "--helo", "probe.sender.test",
			"--header", "X-Mailflow-Probe: "+token, "--header", "Subject: baseline")
		swaks.Stdout, swaks.Stderr = io.Discard, os.Stderr
		if err := swaks.Run(); err != nil {
			b.Fatalf("swaks: %v", err)
		}
		if !out.Scan() {
			b.Fatal("imapwait.py ended")
		}
		f := strings.Fields(out.Text())
		if len(f) != 2 || f[0] != token {
			b.Fatalf("imapwait.py said %q, want %s and a time", out.Text(), token)
		}
		at, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			b.Fatalf("imapwait.py: %q: %v", out.Text(), err)
		}
		found := time.Unix(0, int64(at*1e9))
		times = append(times, ms(found.Sub(start)))
	}
	return times
}

var storedLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) lmtp\(.*msgid=<mailflow\.([0-9a-f]{32})@.*stored mail into mailbox`)

// storedTimes reads when Dovecot stored each probe, by token.
func storedTimes(b *testing.B, log string) map[string]time.Time {
	b.Helper()
	out := map[string]time.Time{}
	for _, line := range strings.Split(readFile(b, log), "\n") {
		if m := storedLine.FindStringSubmatch(line); m != nil {
			at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", m[1], time.Local)
			if err == nil {
				out[m[2]] = at
			}
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank percentile of xs.
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(report.NearestRank(len(s), p), len(s))-1]
}
