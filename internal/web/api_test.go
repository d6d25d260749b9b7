package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/report"
)

func probeTokens(probes []report.ProbeJSON) []string {
	var out []string
	for _, p := range probes {
		out = append(out, p.Token)
	}
	return out
}

func TestAPIProbes(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"default: the last 24h, newest first", "", []string{"token08", "token07", "token06", "token05", "token04", "token03", "token02", "token01"}},
		{"limit", "?limit=3", []string{"token08", "token07", "token06"}},
		{"check", "?check=default&limit=1000", []string{"token05", "token04", "token03", "token02", "token01"}},
		// The clock reads t0+1h; probe n was created at t0+n s.
		{"since", "?since=3595s", []string{"token08", "token07", "token06", "token05"}},
		{"since 0 is everything", "?since=0&check=hourly", []string{"token08", "token07", "token06"}},
		{"days", "?since=1d&check=hourly&limit=2", []string{"token08", "token07"}},
		{"none in the window", "?since=1m", nil},
		{"unknown check: its history, or nothing", "?check=retired", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []report.ProbeJSON
			getJSON(t, f.base+"/api/probes"+tc.query, &got)
			if g := probeTokens(got); !slices.Equal(g, tc.want) {
				t.Errorf("GET /api/probes%s = %v, want %v", tc.query, g, tc.want)
			}
		})
	}

	var got []report.ProbeJSON
	getJSON(t, f.base+"/api/probes?check=default", &got)
	byToken := map[string]report.ProbeJSON{}
	for _, p := range got {
		byToken[p.Token] = p
	}
	alice := byToken["token01"]
	if alice.Path != "submission" || alice.Seed != "alice" || alice.State != "found" || alice.Placement != "inbox" ||
		alice.LatencyMS == nil || *alice.LatencyMS != 1500 || alice.SMTP.QueueID != "Qtoken01" || len(alice.SMTP.Stages) != 7 ||
		alice.TLS == nil || !alice.TLS.CertExpiry.Equal(certExpiry) || alice.Found == nil || alice.Auth.SPF != "pass" ||
		len(alice.Auth.Results) != 1 || compact(alice.Analysis) != `{"summary":{"spf":"pass"}}` || !alice.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("probe token01 = %+v, want submission → alice found in the inbox in 1500ms, with its stages, TLS and auth", alice)
	}
	rejected := byToken["token03"]
	if rejected.State != "rejected" || rejected.SMTP.Stage != "rcpt" || rejected.SMTP.Code != 550 || rejected.SMTP.EnhancedCode != "5.1.1" ||
		rejected.LatencyMS != nil || rejected.Found != nil || rejected.TLS != nil || compact(rejected.Analysis) != "null" {
		t.Errorf("probe token03 = %+v, want rejected at rcpt 550 5.1.1, not found, no TLS", rejected)
	}
	if sent := byToken["token04"]; sent.State != "sent" || sent.Placement != "" {
		t.Errorf("probe token04 = %s %q, want sent without a placement", sent.State, sent.Placement)
	}
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid: " + string(raw)
	}
	return b.String()
}

// TestAPINoSecrets checks that no response carries a secret of the config,
// nor the wire transcript, whatever was stored.
func TestAPINoSecrets(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	for _, r := range f.rounds {
		f.srv.ObserveRound(r)
	}
	for _, path := range []string{"/api/probes?since=0&limit=1000", "/api/rounds?since=0", "/api/report?since=0", "/api/alerts", "/healthz", "/metrics"} {
		code, _, body := get(t, f.base+path, "")
		if code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
		for _, secret := range []string{pathPassword, seedPassword, transcriptOK} {
			if strings.Contains(string(body), secret) {
				t.Errorf("GET %s: the response holds %q", path, secret)
			}
		}
	}
}

// roundJSON mirrors the documented fields of /api/rounds.
type roundJSON struct {
	ID         int64          `json:"id"`
	Check      string         `json:"check"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
	Probes     int            `json:"probes"`
	Placements map[string]int `json:"placements"`
}

func TestAPIRounds(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	// A third round, still running: started, one probe pending.
	running, err := f.db.StartRound(context.Background(), "default", t0.Add(50*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got []roundJSON
	getJSON(t, f.base+"/api/rounds", &got)
	if len(got) != 3 {
		t.Fatalf("GET /api/rounds = %d rounds, want 3", len(got))
	}
	want := []struct {
		id       int64
		check    string
		started  time.Time
		finished bool
		probes   int
		counts   map[string]int
	}{
		{running, "default", t0.Add(50 * time.Minute), false, 0, map[string]int{}},
		{f.rounds[1].ID, "hourly", t0.Add(10 * time.Minute), true, 3, map[string]int{"error": 1, "tab:promotions": 1, "missing": 1}},
		{f.rounds[0].ID, "default", t0, true, 5, map[string]int{"inbox": 2, "spam": 1, "rejected": 1, "sent": 1}},
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Check != w.check || !g.StartedAt.Equal(w.started) || (g.FinishedAt != nil) != w.finished ||
			g.Probes != w.probes || !maps.Equal(g.Placements, w.counts) {
			t.Errorf("round %d = %+v, want id %d %s started %s finished %v, %d probes %v", i, g, w.id, w.check, w.started, w.finished, w.probes, w.counts)
		}
	}
	if f := got[2].FinishedAt; f == nil || !f.Equal(t0.Add(time.Hour)) {
		t.Errorf("finished_at of the first round = %v, want %s", f, t0.Add(time.Hour))
	}
	getJSON(t, f.base+"/api/rounds?check=hourly", &got)
	if len(got) != 1 || got[0].Check != "hourly" {
		t.Errorf("GET /api/rounds?check=hourly = %+v, want the hourly round", got)
	}
	getJSON(t, f.base+"/api/rounds?limit=1", &got)
	if len(got) != 1 || got[0].ID != running {
		t.Errorf("GET /api/rounds?limit=1 = %+v, want the running round", got)
	}
	getJSON(t, f.base+"/api/rounds?since=15m", &got)
	if len(got) != 1 || got[0].ID != running {
		t.Errorf("GET /api/rounds?since=15m = %+v, want the round started 10 minutes ago", got)
	}
}

func TestAPIReport(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	var got []report.Group
	getJSON(t, f.base+"/api/report", &got)
	if keys := groupKeys(got); !slices.Equal(keys, []string{"relay", "smtps", "submission"}) {
		t.Fatalf("GET /api/report groups = %v, want by path: relay, smtps, submission", keys)
	}
	// submission: alice inbox 1.5s, bob spam 40s, zed inbox 3s.
	sub := got[2]
	if sub.Sent != 3 || sub.Accepted != 3 || sub.Found != 3 || !near(sub.Inbox, 200.0/3) || !near(sub.Spam, 100.0/3) ||
		sub.P50 != 3000 || sub.Max != 40000 || !near(sub.SPF, 200.0/3) || sub.TLS != 100 {
		t.Errorf("submission = %+v, want 3 sent and found, inbox 66.7%%, spam 33.3%%, p50 3000ms, max 40000ms, spf 66.7%%, TLS 100%%", sub)
	}
	// smtps: alice error, bob tab 0.2s, carol missing.
	if s := got[1]; s.Sent != 3 || s.Accepted != 2 || s.Found != 1 || s.Tab != 50 || s.Missing != 50 || s.P50 != 200 {
		t.Errorf("smtps = %+v, want 3 sent, 2 accepted, 1 found, tab 50%%, missing 50%%, p50 200ms", s)
	}
	// relay: alice rejected, bob still sent.
	if r := got[0]; r.Sent != 2 || r.Accepted != 1 || r.Found != 0 {
		t.Errorf("relay = %+v, want 2 sent, 1 accepted, none found", r)
	}

	getJSON(t, f.base+"/api/report?by=seed&check=hourly", &got)
	if keys := groupKeys(got); !slices.Equal(keys, []string{"alice", "bob", "carol"}) {
		t.Errorf("GET /api/report?by=seed&check=hourly groups = %v, want alice, bob, carol", keys)
	}
	getJSON(t, f.base+"/api/report?by=check&since=3595s", &got)
	if len(got) != 2 || got[0].Key != "default" || got[0].Sent != 1 || got[1].Key != "hourly" || got[1].Sent != 3 {
		t.Errorf("GET /api/report?by=check&since=3595s = %+v, want default 1 (zed) and hourly 3", got)
	}
	code, _, body := get(t, f.base+"/api/report?since=1m", "")
	if code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("GET /api/report over an empty window = %d %s, want 200 []", code, body)
	}
}

func groupKeys(groups []report.Group) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.Key)
	}
	return out
}

func TestAPIAlerts(t *testing.T) {
	since := t0.Add(30 * time.Minute)
	states := []alert.State{
		{Alert: "default/slow/path=submission", Check: "default", Rule: "slow", Kind: "latency", Severity: "critical",
			Group: "path=submission", Status: alert.StatusFiring, Since: since, Summary: "p95 41s over 30s", Value: 41, Notified: since},
		{Alert: "default/spam/seed=bob", Check: "default", Rule: "spam", Kind: "placement", Severity: "warning",
			Group: "seed=bob", Status: alert.StatusPending, Since: since, Summary: "bob in spam"},
	}
	f := newFixture(t, testConfig(), func(context.Context) ([]alert.State, error) { return states, nil })
	var got []alert.State
	getJSON(t, f.base+"/api/alerts", &got)
	if len(got) != 2 || got[0] != states[0] || got[1] != states[1] {
		t.Errorf("GET /api/alerts = %+v, want %+v", got, states)
	}

	none := newFixture(t, testConfig(), nil)
	code, _, body := get(t, none.base+"/api/alerts", "")
	if code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("GET /api/alerts without an Alerts function = %d %s, want 200 []", code, body)
	}

	failing := newFixture(t, testConfig(), func(context.Context) ([]alert.State, error) {
		return nil, errors.New("database /secret/path is locked")
	})
	code, _, body = get(t, failing.base+"/api/alerts", "")
	if code != http.StatusInternalServerError || strings.Contains(string(body), "/secret/path") {
		t.Errorf("GET /api/alerts with a failing source = %d %s, want 500 without the reason", code, body)
	}
	if !strings.Contains(failing.logs.String(), "/secret/path") {
		t.Error("the failure of the alert source is not logged")
	}
}

func TestBadParameters(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	for _, tc := range []struct {
		url, param, says string
	}{
		{"/api/probes?since=yesterday", "since", "e.g. 24h"},
		{"/api/probes?since=-1h", "since", "not a duration"},
		{"/api/probes?limit=0", "limit", "1 to 1000"},
		{"/api/probes?limit=1001", "limit", "1 to 1000"},
		{"/api/probes?limit=ten", "limit", "1 to 1000"},
		{"/api/probes?chek=default", "chek", "takes since, check, limit"},
		{"/api/probes?check=", "check", "leave the parameter out"},
		{"/api/probes?check=a&check=b", "check", "more than once"},
		{"/api/probes?by=path", "by", "unknown parameter"},
		{"/api/rounds?since=5x", "since", "not a duration"},
		{"/api/rounds?limit=-3", "limit", "1 to 1000"},
		{"/api/report?by=folder", "by", "path, seed, provider, check"},
		{"/api/report?limit=5", "limit", "takes since, check, by"},
		{"/api/alerts?status=firing", "status", "unknown parameter"},
		{"/healthz?verbose=1", "verbose", "unknown parameter"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			code, _, body := get(t, f.base+tc.url, "")
			var e struct{ Error, Parameter string }
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("GET %s: %v in %s", tc.url, err, body)
			}
			if code != http.StatusBadRequest || e.Parameter != tc.param || !strings.Contains(e.Error, tc.says) {
				t.Errorf("GET %s = %d %+v, want 400 naming %q and saying %q", tc.url, code, e, tc.param, tc.says)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	f.clock.set(t0.Add(time.Hour + 90*time.Second)) // 90s after New
	var h struct {
		Status        string  `json:"status"`
		Store         string  `json:"store"`
		UptimeSeconds float64 `json:"uptime_seconds"`
	}
	getJSON(t, f.base+"/healthz", &h)
	if h.Status != "ok" || h.Store != "ok" || h.UptimeSeconds != 90 {
		t.Errorf("GET /healthz = %+v, want ok, store ok, uptime 90s", h)
	}

	f.db.Close()
	code, _, body := get(t, f.base+"/healthz", "")
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("GET /healthz with a closed store: %v in %s", err, body)
	}
	if code != http.StatusServiceUnavailable || h.Status != "unavailable" || !strings.Contains(h.Store, "closed") {
		t.Errorf("GET /healthz with a closed store = %d %+v, want 503 unavailable saying the store is closed", code, h)
	}
	// The API says the store failed without saying how.
	code, _, body = get(t, f.base+"/api/probes", "")
	if code != http.StatusInternalServerError || !strings.Contains(string(body), "see mailflow's log") {
		t.Errorf("GET /api/probes with a closed store = %d %s, want 500", code, body)
	}
}
