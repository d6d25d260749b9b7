package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/web"
)

// t0 is when the fixture's first round started; the clock reads t0 + 1h.
var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// Secrets of the fixture's config: no response and no log line may hold one.
const (
	pathPassword = "path-password-5bd1"
	seedPassword = "seed-password-77ac"
	transcriptOK = "the-transcript-itself-4c2e"
)

// certExpiry is the NotAfter of the submission path's certificate.
var certExpiry = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)

// testConfig has two checks: default (submission and relay to alice and bob,
// with two alert rules) and hourly (smtps to alice, bob and carol).
func testConfig() *config.Config {
	pw := config.NewSecret(pathPassword, "env:TEST_PATH_PW")
	seedPW := config.NewSecret(seedPassword, "env:TEST_SEED_PW")
	return &config.Config{
		Paths: map[string]*config.Path{
			"submission": {Name: "submission", Host: "smtp.example.net", Port: 587, Security: config.SecuritySTARTTLS,
				TLSServerName: "mail.example.net", Username: "monitor", Password: pw},
			"relay": {Name: "relay", Host: "relay.example.net", Port: 25, Security: config.SecurityNone},
			"smtps": {Name: "smtps", Host: "smtps.example.net", Port: 465, Security: config.SecurityTLS, Username: "monitor", Password: pw},
		},
		Seeds: map[string]*config.Seed{
			"alice": {Name: "alice", Address: "alice@gmail.example", Provider: &config.Provider{ID: "gmail"}, Password: seedPW},
			"bob":   {Name: "bob", Address: "bob@lab.example", Provider: &config.Provider{ID: "lab"}, Password: seedPW},
			"carol": {Name: "carol", Address: "carol@other.example", Password: seedPW},
		},
		Checks: map[string]*config.Check{
			"default": {Name: "default", Paths: []string{"submission", "relay"}, Seeds: []string{"alice", "bob"},
				Alerts: []*config.Rule{{Name: "slow", Check: "default", Kind: config.RuleLatency}, {Name: "spam", Check: "default", Kind: config.RulePlacement}}},
			"hourly": {Name: "hourly", Paths: []string{"smtps"}, Seeds: []string{"alice", "bob", "carol"}},
		},
		Web: config.Web{Listen: "127.0.0.1:0"},
	}
}

// spec is one probe of the fixture and how it ends: a placement of a found
// probe (inbox, spam, tab:...), or missing, rejected, error, or sent (still
// waited for).
type spec struct {
	path, seed, provider string
	end                  string
	latency              time.Duration
	spf, dkim, dmarc     string
}

// fixture is a store with two rounds, a server over it and a fake clock.
type fixture struct {
	db      *store.DB
	cfg     *config.Config
	srv     *web.Server
	base    string // http://127.0.0.1:port
	logs    *syncBuffer
	rounds  []runner.Round
	byToken map[string]store.Probe
	clock   *clock
	n       int
}

// The fixture's probes, in the order they are created (a second apart).
var (
	defaultRound = []spec{
		{path: "submission", seed: "alice", provider: "gmail", end: "inbox", latency: 1500 * time.Millisecond, spf: "pass", dkim: "pass", dmarc: "pass"},
		{path: "submission", seed: "bob", provider: "lab", end: "spam", latency: 40 * time.Second, spf: "SoftFail", dkim: "", dmarc: "bestguesspass"},
		{path: "relay", seed: "alice", provider: "gmail", end: "rejected"},
		{path: "relay", seed: "bob", provider: "lab", end: "sent"},
		// zed is not in the config (any more): stored and reported, never a metric label.
		{path: "submission", seed: "zed", provider: "gone", end: "inbox", latency: 3 * time.Second, spf: "pass", dkim: "pass", dmarc: "pass"},
	}
	hourlyRound = []spec{
		{path: "smtps", seed: "alice", provider: "gmail", end: "error"},
		{path: "smtps", seed: "bob", provider: "lab", end: "tab:promotions", latency: 200 * time.Millisecond, spf: "pass", dkim: "fail", dmarc: "fail"},
		{path: "smtps", seed: "carol", provider: "", end: "missing"},
	}
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// syncBuffer collects log lines written from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newFixture stores the two rounds and serves them on a loopback listener.
// The server is not told of the rounds: tests call ObserveRound or Load.
func newFixture(t *testing.T, cfg *config.Config, alerts web.AlertsFunc) *fixture {
	t.Helper()
	f := &fixture{db: openStore(t), cfg: cfg, logs: &syncBuffer{}, byToken: map[string]store.Probe{},
		clock: &clock{t: t0.Add(time.Hour)}}
	f.addRound("default", t0, defaultRound)
	f.addRound("hourly", t0.Add(10*time.Minute), hourlyRound)
	f.srv = web.New(web.Options{Store: f.db, Config: cfg, Log: slog.New(slog.NewTextHandler(f.logs, nil)),
		Alerts: alerts, Now: f.clock.now})
	f.base = serve(t, f.srv)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs.String())
		}
	})
	return f
}

// serve runs srv on a loopback port until the test ends, and checks that it
// then stops cleanly.
func serve(t *testing.T, srv *web.Server) string {
	t.Helper()
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after the end of its context = %v, want nil", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// addRound stores a round of check with one probe per spec, as the runner
// would, finishes it an hour after start, and keeps it as the runner hands it
// over.
func (f *fixture) addRound(check string, start time.Time, specs []spec) {
	ctx := context.Background()
	id, err := f.db.StartRound(ctx, check, start)
	if err != nil {
		panic(err)
	}
	for _, s := range specs {
		f.n++
		at := t0.Add(time.Duration(f.n) * time.Second)
		p := store.Probe{RoundID: id, Token: fmt.Sprintf("token%02d", f.n), Check: check, Path: s.path, Seed: s.seed,
			SeedAddress: s.seed + "@example.test", Provider: s.provider, CreatedAt: at, DeadlineAt: at.Add(5 * time.Minute)}
		if err := f.db.InsertProbe(ctx, &p); err != nil {
			panic(err)
		}
		if err := f.end(p, s, at); err != nil {
			panic(err)
		}
	}
	if err := f.db.FinishRound(ctx, id, start.Add(time.Hour)); err != nil {
		panic(err)
	}
	f.rounds = append(f.rounds, f.round(id, check))
}

// round reads a round back from the store, as runner.Run returns it.
func (f *fixture) round(id int64, check string) runner.Round {
	probes, err := f.db.RoundProbes(context.Background(), id)
	if err != nil {
		panic(err)
	}
	for _, p := range probes {
		f.byToken[p.Token] = p
	}
	return runner.Round{ID: id, Check: check, Probes: probes}
}

// end records a probe's submission and its end as spec s says.
func (f *fixture) end(p store.Probe, s spec, at time.Time) error {
	ctx := context.Background()
	st := func(stage string, code int, enhanced, errText string) store.Stage {
		return store.Stage{Stage: stage, StartedAt: at, Duration: time.Millisecond, Code: code, EnhancedCode: enhanced, Error: errText}
	}
	sub := store.Submission{StartedAt: at, Duration: 50 * time.Millisecond, Transcript: "C: AUTH PLAIN ****\r\n" + transcriptOK}
	switch s.end {
	case "rejected":
		sub.Outcome, sub.Stage, sub.Code, sub.EnhancedCode, sub.Text = "rejected", "rcpt", 550, "5.1.1", "no such user"
		stages := []store.Stage{st("connect", 0, "", ""), st("banner", 220, "", ""), st("ehlo", 250, "", ""),
			st("mail", 250, "2.1.0", ""), st("rcpt", 550, "5.1.1", "")}
		return f.db.RecordSubmission(ctx, p.ID, store.StateRejected, "rejected", sub, stages, at)
	case "error":
		sub.Outcome, sub.Stage, sub.Code, sub.EnhancedCode, sub.Reason = "error", "auth", 535, "5.7.8", "authentication failed"
		stages := []store.Stage{st("connect", 0, "", ""), st("tls", 0, "", ""), st("banner", 220, "", ""),
			st("ehlo", 250, "", ""), st("auth", 535, "5.7.8", "")}
		return f.db.RecordSubmission(ctx, p.ID, store.StateError, "error", sub, stages, at)
	}
	sub.Outcome, sub.Stage, sub.Code, sub.EnhancedCode, sub.QueueID = "accepted", "data", 250, "2.0.0", "Q"+p.Token
	sub.AcceptedAt = at.Add(50 * time.Millisecond)
	if s.path == "submission" {
		sub.TLSVersion, sub.TLSCipher, sub.TLSServer = "TLS 1.3", "TLS_AES_128_GCM_SHA256", "mail.example.net"
		sub.CertSubject, sub.CertIssuer, sub.CertExpiry = "CN=mail.example.net", "CN=Test CA", certExpiry
	}
	stages := []store.Stage{st("connect", 0, "", ""), st("banner", 220, "", ""), st("ehlo", 250, "", ""),
		st("mail", 250, "2.1.0", ""), st("rcpt", 250, "2.1.5", ""), st("data", 250, "2.0.0", ""), st("quit", 221, "", "")}
	if err := f.db.RecordSubmission(ctx, p.ID, store.StateSent, "", sub, stages, at); err != nil {
		return err
	}
	switch s.end {
	case "sent":
		return nil
	case "missing":
		return f.db.Finish(ctx, p.ID, store.StateMissing, "missing", "not found by its deadline", p.DeadlineAt)
	}
	return f.found(p.ID, s, at)
}

func (f *fixture) found(id int64, s spec, at time.Time) error {
	seen := store.Sighting{FoundAt: at.Add(s.latency), Folder: "INBOX", FolderRole: "inbox", UID: uint32(id),
		InternalDate: at, Latency: s.latency, LatencyBasis: store.LatencySeen, Analysis: `{"summary":{"spf":"` + s.spf + `"}}`}
	auth := store.Auth{AuthservID: "mx.example.test", SPF: s.spf, DKIM: s.dkim, DMARC: s.dmarc}
	rows := []store.AuthRow{{AuthservID: "mx.example.test", Trusted: true, Method: "spf", Result: s.spf}}
	return f.db.RecordFound(context.Background(), id, s.end, seen, auth, rows)
}

// get requests path with the bearer token when not "", and returns the status,
// the header and the body.
func get(t *testing.T, url, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// getJSON requests url, wants 200 and decodes the body into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, h, body := get(t, url, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q, want application/json", url, ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}
