package web_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailflow/mailflow/internal/alert"
)

// scrape fetches /metrics and parses it with Prometheus's own text parser.
func scrape(t *testing.T, base, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, h, body := get(t, base+"/metrics", token)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s, want 200", code, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// find returns the series of name whose labels are exactly the pairs given
// (name, value, name, value...), or nil.
func find(fams map[string]*dto.MetricFamily, name string, pairs ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	want := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		want[pairs[i]] = pairs[i+1]
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(want) {
			continue
		}
		ok := true
		for _, l := range m.Label {
			if v, has := want[l.GetName()]; !has || v != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// value is the value of a counter or gauge series; NaN when it is absent.
func value(fams map[string]*dto.MetricFamily, name string, pairs ...string) float64 {
	m := find(fams, name, pairs...)
	switch {
	case m == nil:
		return math.NaN()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return math.NaN()
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestMetrics(t *testing.T) {
	states := []alert.State{
		{Check: "default", Rule: "slow", Group: "path=submission", Status: alert.StatusFiring},
		{Check: "default", Rule: "slow", Group: "path=relay", Status: alert.StatusFiring},
		{Check: "default", Rule: "spam", Group: "seed=bob", Status: alert.StatusPending},
		{Check: "default", Rule: "removed", Group: "seed=bob", Status: alert.StatusFiring},
	}
	f := newFixture(t, testConfig(), func(context.Context) ([]alert.State, error) { return states, nil })
	// hourly does not cover submission (any more): its probe is no series.
	f.addRound("hourly", t0.Add(20*time.Minute), []spec{{path: "submission", seed: "alice", end: "inbox", latency: time.Second}})
	for _, r := range f.rounds {
		f.srv.ObserveRound(r)
	}
	// relay → bob arrives after its round was handed over; the round seen
	// again counts it, and only it.
	relayBob := f.byToken["token04"]
	if err := f.found(relayBob.ID, spec{end: "inbox", latency: 7 * time.Second, spf: "pass", dkim: "pass", dmarc: "pass"}, relayBob.CreatedAt); err != nil {
		t.Fatal(err)
	}
	f.srv.ObserveRound(f.round(f.rounds[0].ID, "default"))
	f.srv.ObserveRound(f.round(f.rounds[0].ID, "default"))
	fams := scrape(t, f.base, "")

	t.Run("round trip", func(t *testing.T) {
		for _, tc := range []struct {
			path, seed, provider string
			count                uint64
			sum                  float64
			le                   float64 // a bucket ...
			inLE                 uint64  // ... and how many it holds
		}{
			{"submission", "alice", "gmail", 1, 1.5, 1, 0},
			{"submission", "alice", "gmail", 1, 1.5, 2.5, 1},
			{"submission", "bob", "lab", 1, 40, 30, 0},
			{"submission", "bob", "lab", 1, 40, 60, 1},
			{"relay", "bob", "lab", 1, 7, 10, 1},
			{"relay", "alice", "gmail", 0, 0, 600, 0}, // rejected: no round trip, the series exists
		} {
			m := find(fams, "mailflow_probe_round_trip_seconds", "check", "default", "path", tc.path, "seed", tc.seed, "provider", tc.provider)
			if m == nil || m.Histogram == nil {
				t.Errorf("no round-trip histogram for %s → %s", tc.path, tc.seed)
				continue
			}
			h := m.Histogram
			if h.GetSampleCount() != tc.count || !near(h.GetSampleSum(), tc.sum) {
				t.Errorf("%s → %s: count %d sum %g, want %d and %g", tc.path, tc.seed, h.GetSampleCount(), h.GetSampleSum(), tc.count, tc.sum)
			}
			i := slices.IndexFunc(h.Bucket, func(b *dto.Bucket) bool { return b.GetUpperBound() == tc.le })
			if i < 0 || h.Bucket[i].GetCumulativeCount() != tc.inLE {
				t.Errorf("%s → %s: bucket le=%g missing or not %d: %v", tc.path, tc.seed, tc.le, tc.inLE, h.Bucket)
			}
		}
		if m := find(fams, "mailflow_probe_round_trip_seconds", "check", "hourly", "path", "submission", "seed", "alice", "provider", "gmail"); m != nil {
			t.Errorf("hourly submission → alice has a round-trip series (%v), but hourly does not cover submission", m)
		}
		m := find(fams, "mailflow_probe_round_trip_seconds", "check", "hourly", "path", "smtps", "seed", "bob", "provider", "lab")
		if m == nil || m.Histogram.GetSampleCount() != 1 || !near(m.Histogram.GetSampleSum(), 0.2) {
			t.Errorf("hourly smtps → bob round trip = %v, want one of 0.2s", m)
		}
	})

	t.Run("placements", func(t *testing.T) {
		for _, tc := range []struct {
			check, path, seed, provider, placement string
			want                                   float64
		}{
			{"default", "submission", "alice", "gmail", "inbox", 1},
			{"default", "submission", "alice", "gmail", "spam", 0},
			{"default", "submission", "bob", "lab", "spam", 1},
			{"default", "relay", "alice", "gmail", "rejected", 1},
			{"default", "relay", "bob", "lab", "inbox", 1}, // observed three times, counted once
			{"hourly", "smtps", "alice", "gmail", "error", 1},
			{"hourly", "smtps", "bob", "lab", "tab", 1},
			{"hourly", "smtps", "carol", "unknown", "missing", 1},
			{"hourly", "smtps", "carol", "unknown", "inbox", 0},
		} {
			got := value(fams, "mailflow_probes_total", "check", tc.check, "path", tc.path, "seed", tc.seed, "provider", tc.provider, "placement", tc.placement)
			if got != tc.want {
				t.Errorf("probes_total{%s %s %s %s} = %v, want %v", tc.check, tc.path, tc.seed, tc.placement, got, tc.want)
			}
		}
		total := 0.0
		for _, m := range fams["mailflow_probes_total"].Metric {
			total += m.Counter.GetValue()
		}
		if total != 7 { // every probe of the config's checks once; zed and hourly's submission never
			t.Errorf("sum of mailflow_probes_total = %v, want 7", total)
		}
	})

	t.Run("smtp stages", func(t *testing.T) {
		for _, tc := range []struct {
			check, path, stage, outcome string
			want                        float64
		}{
			{"default", "relay", "rcpt", "rejected", 1},
			{"default", "relay", "rcpt", "ok", 1},         // relay → bob, once
			{"default", "submission", "data", "ok", 2},    // alice and bob; zed is not configured
			{"default", "submission", "connect", "ok", 2}, // a stage without a reply code is ok
			{"hourly", "smtps", "auth", "error", 1},
			{"hourly", "smtps", "quit", "ok", 2},
		} {
			got := value(fams, "mailflow_smtp_stage_outcomes_total", "check", tc.check, "path", tc.path, "stage", tc.stage, "outcome", tc.outcome)
			if got != tc.want {
				t.Errorf("smtp_stage_outcomes_total{%s %s %s %s} = %v, want %v", tc.check, tc.path, tc.stage, tc.outcome, got, tc.want)
			}
		}
	})

	t.Run("auth", func(t *testing.T) {
		for _, tc := range []struct {
			check, path, seed, method, result string
			want                              float64
		}{
			{"default", "submission", "alice", "spf", "pass", 1},
			{"default", "submission", "alice", "dmarc", "pass", 1},
			{"default", "submission", "bob", "spf", "softfail", 1}, // lower-cased
			{"default", "submission", "bob", "dkim", "none", 1},    // no trusted result
			{"default", "submission", "bob", "dmarc", "other", 1},  // not an RFC 8601 result
			{"hourly", "smtps", "bob", "dkim", "fail", 1},
			{"default", "relay", "alice", "spf", "pass", math.NaN()}, // rejected: never read
		} {
			got := value(fams, "mailflow_auth_results_total", "check", tc.check, "path", tc.path, "seed", tc.seed, "method", tc.method, "result", tc.result)
			if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
				t.Errorf("auth_results_total{%s %s %s %s %s} = %v, want %v", tc.check, tc.path, tc.seed, tc.method, tc.result, got, tc.want)
			}
		}
	})

	t.Run("timestamps", func(t *testing.T) {
		alice := f.byToken["token01"]
		if got, want := value(fams, "mailflow_last_probe_timestamp_seconds", "check", "default", "path", "submission", "seed", "alice"),
			float64(alice.FinishedAt.UnixNano())/1e9; !near(got, want) {
			t.Errorf("last probe of submission → alice = %v, want %v (when it was found)", got, want)
		}
		carol := f.byToken["token08"]
		if got, want := value(fams, "mailflow_last_probe_timestamp_seconds", "check", "hourly", "path", "smtps", "seed", "carol"),
			float64(carol.DeadlineAt.Unix()); !near(got, want) {
			t.Errorf("last probe of smtps → carol = %v, want %v (its deadline, when it ended missing)", got, want)
		}
		for _, check := range []string{"default", "hourly"} {
			if got, want := value(fams, "mailflow_last_round_timestamp_seconds", "check", check), float64(f.clock.now().Unix()); got != want {
				t.Errorf("last round of %s = %v, want %v (the clock when it was observed)", check, got, want)
			}
		}
		if got := value(fams, "mailflow_tls_certificate_expiry_timestamp_seconds", "path", "submission", "server_name", "mail.example.net"); got != float64(certExpiry.Unix()) {
			t.Errorf("certificate expiry of submission = %v, want %v", got, float64(certExpiry.Unix()))
		}
		if n := len(fams["mailflow_tls_certificate_expiry_timestamp_seconds"].GetMetric()); n != 1 {
			t.Errorf("%d certificate expiry series, want 1 (only submission negotiated TLS)", n)
		}
	})

	t.Run("alerts", func(t *testing.T) {
		if got := value(fams, "mailflow_alerts_firing", "check", "default", "rule", "slow"); got != 2 {
			t.Errorf("alerts_firing{default slow} = %v, want 2", got)
		}
		if got := value(fams, "mailflow_alerts_firing", "check", "default", "rule", "spam"); got != 0 {
			t.Errorf("alerts_firing{default spam} = %v, want 0 (pending is not firing)", got)
		}
		if n := len(fams["mailflow_alerts_firing"].GetMetric()); n != 2 {
			t.Errorf("%d alerts_firing series, want 2 (the configured rules; not the removed one)", n)
		}
	})

	t.Run("bounded labels", func(t *testing.T) {
		allowed := map[string][]string{
			"check":     {"default", "hourly"},
			"path":      {"submission", "relay", "smtps"},
			"seed":      {"alice", "bob", "carol"},
			"provider":  {"gmail", "lab", "unknown"},
			"placement": {"inbox", "spam", "tab", "other", "missing", "rejected", "deferred", "error"},
			"stage":     {"connect", "tls", "banner", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "quit", "other"},
			"outcome":   {"ok", "deferred", "rejected", "error"},
			"method":    {"spf", "dkim", "dmarc"},
			"result":    {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy", "other"},
		}
		for name, fam := range fams {
			if !strings.HasPrefix(name, "mailflow_") {
				continue
			}
			for _, m := range fam.Metric {
				for _, l := range m.Label {
					if vals, ok := allowed[l.GetName()]; ok && !slices.Contains(vals, l.GetValue()) {
						t.Errorf("%s{%s=%q}: not one of %v", name, l.GetName(), l.GetValue(), vals)
					}
				}
			}
		}
		for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
			if fams[name] == nil {
				t.Errorf("no %s: the Go and process collectors are missing", name)
			}
		}
	})
}

// TestMetricsAfterRestart checks that a new server shows the last round's
// gauges from the store before any round ends, and that an older stored fact
// never replaces a newer observed one.
func TestMetricsAfterRestart(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	if err := f.srv.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, f.base, "")
	alice := f.byToken["token01"]
	if got, want := value(fams, "mailflow_last_probe_timestamp_seconds", "check", "default", "path", "submission", "seed", "alice"),
		float64(alice.FinishedAt.UnixNano())/1e9; !near(got, want) {
		t.Errorf("last probe of submission → alice after a restart = %v, want %v", got, want)
	}
	if got := value(fams, "mailflow_last_probe_timestamp_seconds", "check", "default", "path", "relay", "seed", "bob"); !math.IsNaN(got) {
		t.Errorf("last probe of relay → bob = %v, want no series: its only probe is still sent", got)
	}
	if got := value(fams, "mailflow_last_probe_timestamp_seconds", "check", "default", "path", "submission", "seed", "zed"); !math.IsNaN(got) {
		t.Errorf("last probe of the unconfigured seed zed = %v, want no series", got)
	}
	if got, want := value(fams, "mailflow_last_round_timestamp_seconds", "check", "hourly"), float64(t0.Add(70*time.Minute).Unix()); got != want {
		t.Errorf("last round of hourly after a restart = %v, want %v (its finished_at)", got, want)
	}
	if got := value(fams, "mailflow_tls_certificate_expiry_timestamp_seconds", "path", "submission", "server_name", "mail.example.net"); got != float64(certExpiry.Unix()) {
		t.Errorf("certificate expiry after a restart = %v, want %v", got, float64(certExpiry.Unix()))
	}
	if got := value(fams, "mailflow_probes_total", "check", "default", "path", "submission", "seed", "alice", "provider", "gmail", "placement", "inbox"); got != 0 {
		t.Errorf("probes_total after a restart = %v, want 0: counters start again", got)
	}
	if fams["mailflow_alerts_firing"] != nil {
		t.Error("mailflow_alerts_firing is served without an Alerts function")
	}

	// A round observed later than the store's finished_at wins over a
	// second Load of the older fact.
	later := t0.Add(3 * time.Hour)
	f.clock.set(later)
	f.srv.ObserveRound(f.rounds[1])
	if err := f.srv.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, f.base, "")
	if got := value(fams, "mailflow_last_round_timestamp_seconds", "check", "hourly"); got != float64(later.Unix()) {
		t.Errorf("last round of hourly = %v, want %v: the store's older time replaced it", got, float64(later.Unix()))
	}
}

// TestAlertsCollectorError checks that a failing Alerts function costs its
// own metric only.
func TestAlertsCollectorError(t *testing.T) {
	f := newFixture(t, testConfig(), func(context.Context) ([]alert.State, error) { return nil, errors.New("alert store busy") })
	f.srv.ObserveRound(f.rounds[0])
	code, _, body := get(t, f.base+"/metrics", "")
	if code != http.StatusOK || !strings.Contains(string(body), "mailflow_probes_total") {
		t.Errorf("GET /metrics with failing alerts = %d, want 200 with the other metrics", code)
	}
	if strings.Contains(string(body), "mailflow_alerts_firing{") {
		t.Error("mailflow_alerts_firing served although its source failed")
	}
	if !strings.Contains(f.logs.String(), "alert store busy") {
		t.Errorf("the failure is not logged:\n%s", f.logs.String())
	}
}
