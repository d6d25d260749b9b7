package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/store"
)

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// newLab starts the embedded lab with its default seeds and returns a config
// for it with one check over every lab path and the given seeds.
func newLab(t *testing.T, seeds ...string) (*lab.Lab, *config.Config) {
	t.Helper()
	l, err := lab.Start(lab.Options{Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cfg, err := l.Config(filepath.Join(t.TempDir(), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	check := cfg.Checks["demo"]
	check.Seeds = seeds
	check.Deadline = 10 * time.Second
	return l, cfg
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// runRound runs the config's demo check and returns the stored probes by
// "path/seed", and the store for further checks.
func runRound(t *testing.T, cfg *config.Config) (map[string]store.Probe, *store.DB) {
	t.Helper()
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := &Runner{Store: db, Log: testLog(t)}
	t.Cleanup(r.Close)
	round, err := r.Run(ctx, cfg, cfg.Checks["demo"])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Probe{}
	for _, p := range round.Probes {
		out[p.Path+"/"+p.Seed] = p
	}
	return out, db
}

func TestEveryPathLandsInInbox(t *testing.T) {
	l, cfg := newLab(t, "alice")
	probes, db := runRound(t, cfg)
	if len(probes) != 3 {
		t.Fatalf("got %d probes, want 3 (one per lab path)", len(probes))
	}
	for _, path := range []string{"relay", "submission", "smtps"} {
		t.Run(path, func(t *testing.T) {
			p, ok := probes[path+"/alice"]
			if !ok {
				t.Fatalf("no probe for %s/alice", path)
			}
			if p.State != store.StateFound || p.Placement != "inbox" {
				t.Fatalf("state %s placement %s (%s %s), want found inbox", p.State, p.Placement, p.Error, p.Submission.Reason)
			}
			if p.Auth.SPF != "pass" || p.Auth.DKIM != "pass" || p.Auth.DMARC != "pass" {
				t.Errorf("spf=%s dkim=%s dmarc=%s, want pass pass pass", p.Auth.SPF, p.Auth.DKIM, p.Auth.DMARC)
			}
			if p.Auth.AuthservID != l.Hostname {
				t.Errorf("authserv-id %q, want the lab's %q", p.Auth.AuthservID, l.Hostname)
			}
			if p.Submission.TLSVersion == "" || p.Submission.CertIssuer == "" {
				t.Errorf("TLS version %q issuer %q, want a TLS session with the lab certificate", p.Submission.TLSVersion, p.Submission.CertIssuer)
			}
			if p.Submission.Code != 250 || p.Sighting.Latency <= 0 || p.Sighting.Latency > 10*time.Second ||
				p.Sighting.LatencyBasis != store.LatencySeen {
				t.Errorf("final code %d latency %s (%s), want 250 and a positive latency to when it was seen",
					p.Submission.Code, p.Sighting.Latency, p.Sighting.LatencyBasis)
			}
			var a report.AnalysisJSON
			if err := json.Unmarshal([]byte(p.Sighting.Analysis), &a); err != nil || a.Summary.DMARC != "pass" ||
				len(a.DKIMSignatures) != 1 || !a.DKIMSignatures[0].Aligned {
				t.Errorf("stored analysis %s (%v), want dmarc pass and one aligned signature", p.Sighting.Analysis, err)
			}
			if p.Sighting.InternalDate.IsZero() || !strings.Contains(p.Sighting.Headers, "X-Mailflow-Probe: "+p.Token) {
				t.Errorf("sighting lacks INTERNALDATE or the probe header: %+v", p.Sighting)
			}
			if !hasStage(p, "mail", 250) || !hasStage(p, "rcpt", 250) || !hasStage(p, "data", 250) {
				t.Errorf("stages %+v, want mail, rcpt and data with 250", p.Stages)
			}
		})
	}
	// Found probes are deleted from the seed once stored.
	waitFor(t, func() bool { n, _ := l.Count("alice", "INBOX"); return n == 0 }, "alice's INBOX to be emptied by cleanup")
	if rows, err := db.ProbeCount(context.Background()); err != nil || rows != 3 {
		t.Errorf("probes rows = %d, %v, want exactly 3", rows, err)
	}
}

func hasStage(p store.Probe, stage string, code int) bool {
	for _, s := range p.Stages {
		if s.Stage == stage && s.Code == code {
			return true
		}
	}
	return false
}

// waitFor polls cond (a condition on the lab, which has no event to wait on)
// until it holds or 5 seconds pass.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestPlacementsAndFailures(t *testing.T) {
	_, cfg := newLab(t, "bob", "carol", "dave")
	check := cfg.Checks["demo"]
	check.Paths = []string{"submission"}
	check.Deadline = 2 * time.Second
	probes, _ := runRound(t, cfg)
	for _, tc := range []struct {
		seed, state, placement string
	}{
		{"bob", store.StateFound, "spam"},
		{"carol", store.StateRejected, "rejected"},
		{"dave", store.StateMissing, "missing"},
	} {
		p := probes["submission/"+tc.seed]
		if p.State != tc.state || p.Placement != tc.placement {
			t.Errorf("%s: state %s placement %s, want %s %s", tc.seed, p.State, p.Placement, tc.state, tc.placement)
		}
	}
	carol := probes["submission/carol"]
	if carol.Submission.Stage != "rcpt" || carol.Submission.Code != 550 || carol.Submission.EnhancedCode != "5.1.1" {
		t.Errorf("carol: stage %s code %d %s, want rcpt 550 5.1.1", carol.Submission.Stage, carol.Submission.Code, carol.Submission.EnhancedCode)
	}
	if bob := probes["submission/bob"]; bob.Sighting.Folder != "Junk" {
		t.Errorf("bob: folder %q, want Junk", bob.Sighting.Folder)
	}
}

func TestSpamLookingProbeLandsInSpam(t *testing.T) {
	_, cfg := newLab(t, "alice")
	check := cfg.Checks["demo"]
	check.Paths = []string{"smtps"}
	check.Body = gtube
	probes, _ := runRound(t, cfg)
	if p := probes["smtps/alice"]; p.Placement != "spam" {
		t.Errorf("GTUBE probe: placement %s (state %s), want spam", p.Placement, p.State)
	}
}

func TestPathFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		path   string
		modify func(l *lab.Lab, p *config.Path)
		stage  string
		code   int
		noAuth bool // the transcript must show no AUTH command
	}{
		{"wrong password", "submission", func(_ *lab.Lab, p *config.Path) {
			p.Password = config.NewSecret("not-the-password", "test")
		}, "auth", 535, false},
		{"untrusted certificate", "smtps", func(_ *lab.Lab, p *config.Path) { p.CAFile = "" }, "tls", 0, true},
		{"untrusted certificate on STARTTLS", "submission", func(_ *lab.Lab, p *config.Path) { p.CAFile = "" }, "starttls", 220, true},
		{"STARTTLS required but not offered", "submission", func(l *lab.Lab, p *config.Path) {
			p.Host, p.Port = hostPort(t, l.PlainRelay)
		}, "starttls", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, cfg := newLab(t, "alice")
			cfg.Checks["demo"].Paths = []string{tc.path}
			tc.modify(l, cfg.Paths[tc.path])
			probes, _ := runRound(t, cfg)
			p := probes[tc.path+"/alice"]
			if p.State != store.StateError || p.Placement != "error" {
				t.Fatalf("state %s placement %s, want error error", p.State, p.Placement)
			}
			if p.Submission.Stage != tc.stage || p.Submission.Code != tc.code {
				t.Errorf("failed at %s with %d (%s), want %s with %d", p.Submission.Stage, p.Submission.Code, p.Submission.Reason, tc.stage, tc.code)
			}
			if tc.noAuth && strings.Contains(p.Submission.Transcript, "C: AUTH") {
				t.Errorf("credentials were offered:\n%s", p.Submission.Transcript)
			}
			if strings.Contains(p.Submission.Transcript, l.Password) {
				t.Errorf("transcript shows the password:\n%s", p.Submission.Transcript)
			}
		})
	}
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}

func TestConnectionsAreReused(t *testing.T) {
	specs := make([]lab.SeedSpec, 6)
	for i := range specs {
		specs[i] = lab.SeedSpec{Name: fmt.Sprintf("s%d", i), Rule: lab.RuleDeliver}
	}
	l, err := lab.Start(lab.Options{Seeds: specs, Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg, err := l.Config(filepath.Join(t.TempDir(), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Checks["demo"].Paths = []string{"submission"}
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &Runner{Store: db, Log: testLog(t), Concurrency: 2}
	defer r.Close()
	round, err := r.Run(context.Background(), cfg, cfg.Checks["demo"])
	if err != nil {
		t.Fatal(err)
	}
	if n := l.SMTPConnections(); n != 2 {
		t.Errorf("SMTP connections = %d, want 2 for 6 probes with Concurrency 2", n)
	}
	reused := 0
	for _, p := range round.Probes {
		if p.State != store.StateFound || p.Auth.DKIM != "pass" {
			t.Errorf("probe to %s: %s dkim=%s, want found with dkim pass", p.Seed, p.State, p.Auth.DKIM)
		}
		first := p.Stages[0].Stage
		switch {
		case p.Submission.Reused && first != "mail":
			t.Errorf("reused probe's stages start at %s, want mail", first)
		case !p.Submission.Reused && first != "connect":
			t.Errorf("first probe's stages start at %s, want connect", first)
		}
		if p.Submission.Reused {
			reused++
			if p.Submission.TLSVersion == "" {
				t.Error("reused probe lost the TLS facts of its connection")
			}
		}
	}
	if reused != 4 {
		t.Errorf("%d probes reused a connection, want 4", reused)
	}
}
