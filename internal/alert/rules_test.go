package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/store"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// pr builds a finished probe of round n, created n minutes after t0.
func pr(round int64, path, seed, state, placement string, rtt time.Duration) store.Probe {
	p := store.Probe{ID: round*100 + int64(len(seed)+len(path)), RoundID: round, Token: seed + "-" + path, Check: "c", Path: path, Seed: seed,
		Provider: "prov-" + seed, State: state, Placement: placement, CreatedAt: t0.Add(time.Duration(round) * time.Minute)}
	p.Submission.Outcome = "accepted"
	p.Submission.TLSVersion = "TLS1.3"
	if state == store.StateFound {
		p.Sighting.Latency = rtt
		p.Auth = store.Auth{SPF: "pass", DKIM: "pass", DMARC: "pass"}
	}
	return p
}

func findings(t *testing.T, r *config.Rule, ps []store.Probe, now time.Time) map[string]finding {
	t.Helper()
	out := map[string]finding{}
	for _, f := range judge(r, ps, now) {
		out[f.group] = f
	}
	return out
}

func TestLatencyEachProbeOfLatestRound(t *testing.T) {
	r := &config.Rule{Kind: config.RuleLatency, By: "path", Threshold: 30 * time.Second}
	ps := []store.Probe{
		pr(1, "a", "s1", "found", "inbox", 90*time.Second), // an old round: ignored
		pr(2, "a", "s1", "found", "inbox", 10*time.Second),
		pr(2, "a", "s2", "found", "inbox", 45*time.Second),
		pr(2, "b", "s1", "found", "inbox", 5*time.Second),
		pr(2, "b", "s2", "missing", "", 0),
	}
	f := findings(t, r, ps, t0.Add(time.Hour))
	if a := f["path=a"]; !a.bad || a.value != 45 || a.threshold != 30 || len(a.probes) != 1 || a.probes[0] != "s2-a" ||
		a.summary != "1 of 2 probes over 30s: s2 via a 45s" {
		t.Errorf("path a = %+v", a)
	}
	if b := f["path=b"]; b.bad || b.value != 5 {
		t.Errorf("path b = %+v, want not bad (a missing probe is no latency)", b)
	}
}

func TestLatencyPercentileOverWindow(t *testing.T) {
	r := &config.Rule{Kind: config.RuleLatency, By: "check", Threshold: 20 * time.Second, Percentile: 90, Window: 30 * time.Minute, MinProbes: 5}
	var ps []store.Probe
	for i := int64(1); i <= 40; i++ {
		ps = append(ps, pr(i, "a", "s1", "found", "inbox", time.Duration(i)*time.Second))
	}
	// Now is t0+40m: the window holds rounds 10..40, round trips 10s..40s;
	// nearest-rank p90 of 31 values is the 28th: 37s.
	f := findings(t, r, ps, t0.Add(40*time.Minute))["check=c"]
	if !f.bad || f.value != 37 || !strings.HasPrefix(f.summary, "p90 round trip 37s over 31 probes found within 30m0s") {
		t.Errorf("p90 = %+v", f)
	}
	r.MinProbes = 100
	if f := findings(t, r, ps, t0.Add(40*time.Minute))["check=c"]; f.bad || !strings.Contains(f.summary, "fewer than min_probes 100") {
		t.Errorf("too few probes = %+v, want not judged", f)
	}
}

func TestPlacementRate(t *testing.T) {
	r := &config.Rule{Kind: config.RulePlacement, By: "seed", Placements: []string{"spam", "tab"}, Rate: 20, Window: time.Hour, MinProbes: 1}
	ps := []store.Probe{
		pr(1, "a", "s1", "found", "inbox", time.Second),
		pr(2, "a", "s1", "found", "spam", time.Second),
		pr(3, "a", "s1", "found", "tab:promotions", time.Second),
		pr(4, "a", "s1", "missing", "", 0), // accepted, but missing is not named
		pr(5, "a", "s1", "rejected", "rejected", 0),
		pr(5, "a", "s2", "found", "inbox", time.Second),
	}
	ps[4].Submission.Outcome = "rejected"
	f := findings(t, r, ps, t0.Add(30*time.Minute))
	if s1 := f["seed=s1"]; !s1.bad || s1.value != 50 || len(s1.probes) != 2 {
		t.Errorf("seed s1 = %+v, want 2 of 4 accepted = 50%%", s1)
	}
	if s2 := f["seed=s2"]; s2.bad || s2.value != 0 {
		t.Errorf("seed s2 = %+v", s2)
	}
}

func TestAuthRule(t *testing.T) {
	r := &config.Rule{Kind: config.RuleAuth, By: "provider", Methods: []string{"spf", "dkim", "dmarc"}, Aligned: true}
	good := pr(1, "a", "s1", "found", "inbox", time.Second)
	good.Sighting.Analysis = `{"dkim_signatures":[{"domain":"sender.test","result":"pass","aligned":true}]}`
	unaligned := good
	unaligned.Seed, unaligned.Provider = "s2", "prov-s2"
	unaligned.Sighting.Analysis = `{"dkim_signatures":[{"domain":"esp.test","result":"pass","aligned":false}]}`
	failing := good
	failing.Seed, failing.Provider = "s3", "prov-s3"
	failing.Auth = store.Auth{SPF: "softfail", DKIM: "pass", DMARC: ""}
	f := findings(t, r, []store.Probe{good, unaligned, failing}, t0)
	if g := f["provider=prov-s1"]; g.bad {
		t.Errorf("aligned pass = %+v", g)
	}
	if g := f["provider=prov-s2"]; !g.bad || !strings.Contains(g.summary, "no aligned DKIM signature") {
		t.Errorf("unaligned = %+v", g)
	}
	if g := f["provider=prov-s3"]; !g.bad || !strings.Contains(g.summary, "spf=softfail dmarc=none") {
		t.Errorf("failing = %+v", g)
	}
}

func TestSMTPConsecutive(t *testing.T) {
	r := &config.Rule{Kind: config.RuleSMTP, By: "path", Consecutive: 3}
	fail := func(round int64) store.Probe {
		p := pr(round, "relay", "s1", store.StateRejected, "rejected", 0)
		p.Submission = store.Submission{Outcome: "rejected", Stage: "rcpt", Code: 550, EnhancedCode: "5.1.1", Text: "no such user"}
		return p
	}
	ps := []store.Probe{pr(1, "relay", "s1", "found", "inbox", time.Second), fail(2), fail(3)}
	if f := findings(t, r, ps, t0)["path=relay"]; f.bad || f.value != 2 {
		t.Errorf("two failures = %+v, want not bad", f)
	}
	ps = append(ps, fail(4))
	f := findings(t, r, ps, t0)["path=relay"]
	if !f.bad || f.value != 3 || f.summary != "3 submissions in a row failed; the latest (s1 via relay): rejected at rcpt: 550 5.1.1 no such user" {
		t.Errorf("three failures = %+v", f)
	}
	ps = append(ps, pr(5, "relay", "s1", "found", "inbox", time.Second))
	if f := findings(t, r, ps, t0)["path=relay"]; f.bad {
		t.Errorf("after an accepted one = %+v", f)
	}
}

func TestTLSRule(t *testing.T) {
	r := &config.Rule{Kind: config.RuleTLS, By: "path", ExpiresWithin: 14 * 24 * time.Hour}
	old := pr(1, "relay", "s1", "found", "inbox", time.Second)
	old.Submission.CertExpiry = t0.Add(90 * 24 * time.Hour)
	old.Submission.TLSServer = "mx.example.net"
	plain := pr(2, "relay", "s1", "found", "inbox", time.Second)
	plain.Submission.TLSVersion = ""
	if f := findings(t, r, []store.Probe{old, plain}, t0)["path=relay"]; !f.bad || !strings.Contains(f.summary, "TLS not negotiated for s1 via relay; it was (TLS1.3)") {
		t.Errorf("TLS lost = %+v", f)
	}
	if f := findings(t, r, []store.Probe{old}, t0)["path=relay"]; f.bad || f.value != 90 {
		t.Errorf("cert in 90 days = %+v", f)
	}
	if f := findings(t, r, []store.Probe{old}, t0.Add(80*24*time.Hour))["path=relay"]; !f.bad || f.value != 10 ||
		!strings.Contains(f.summary, "the certificate of mx.example.net") {
		t.Errorf("cert in 10 days = %+v", f)
	}
}
