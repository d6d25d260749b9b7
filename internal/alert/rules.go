package alert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/verdict"
)

// finding is what a rule found about one group of probes at one evaluation.
type finding struct {
	group string
	// bad is the rule's condition: true when the group shows the problem.
	bad              bool
	value, threshold float64
	summary          string
	probes           []string // tokens that show it, at most maxProbes
	// persists is set when the group is still as it was when it went bad,
	// though the evidence has left the probes judged: TLS still missing on a
	// path whose TLS-bearing submissions are older than the rounds loaded.
	// A pending or firing alert stays so.
	persists bool
}

const maxProbes = 10

// judge applies a rule to the finished probes of its check (oldest first) and
// returns one finding per group present among them.
func judge(r *config.Rule, probes []store.Probe, now time.Time) []finding {
	groups := map[string][]store.Probe{}
	var order []string
	for _, p := range probes {
		g := groupOf(r.By, p)
		if groups[g] == nil {
			order = append(order, g)
		}
		groups[g] = append(groups[g], p)
	}
	slices.Sort(order)
	out := make([]finding, 0, len(order))
	for _, g := range order {
		f := judgeGroup(r, groups[g], now)
		f.group = g
		out = append(out, f)
	}
	return out
}

// groupOf names the group a probe belongs to: "path=submission".
func groupOf(by string, p store.Probe) string {
	switch by {
	case "seed":
		return "seed=" + p.Seed
	case "provider":
		return "provider=" + p.Provider
	case "check":
		return "check=" + p.Check
	}
	return "path=" + p.Path
}

func judgeGroup(r *config.Rule, ps []store.Probe, now time.Time) finding {
	switch r.Kind {
	case config.RuleLatency:
		if r.Percentile > 0 {
			return latencyPercentile(r, within(ps, now, r.Window))
		}
		return latencyEach(r, latestRound(ps))
	case config.RulePlacement:
		if r.Rate > 0 {
			return placementRate(r, within(ps, now, r.Window))
		}
		return placementAny(r, latestRound(ps))
	case config.RuleAuth:
		return authFailures(r, latestRound(ps))
	case config.RuleSMTP:
		return smtpFailures(r, ps)
	case config.RuleTLS:
		return tlsTrouble(r, ps, now)
	}
	return finding{}
}

// latestRound returns the probes of the latest round among ps.
func latestRound(ps []store.Probe) []store.Probe {
	var last int64
	for _, p := range ps {
		last = max(last, p.RoundID)
	}
	var out []store.Probe
	for _, p := range ps {
		if p.RoundID == last {
			out = append(out, p)
		}
	}
	return out
}

// within returns the probes created within window before now.
func within(ps []store.Probe, now time.Time, window time.Duration) []store.Probe {
	var out []store.Probe
	for _, p := range ps {
		if !p.CreatedAt.Before(now.Add(-window)) {
			out = append(out, p)
		}
	}
	return out
}

// where names a probe in a summary: "gmail-1 via submission".
func where(p store.Probe) string { return p.Seed + " via " + p.Path }

func tokens(ps []store.Probe) []string {
	var out []string
	for _, p := range ps[:min(len(ps), maxProbes)] {
		out = append(out, p.Token)
	}
	return out
}

// listed names up to three probes and counts the rest.
func listed(ps []store.Probe, what func(store.Probe) string) string {
	var s []string
	for _, p := range ps[:min(len(ps), 3)] {
		s = append(s, what(p))
	}
	if len(ps) > 3 {
		s = append(s, fmt.Sprintf("and %d more", len(ps)-3))
	}
	return strings.Join(s, ", ")
}

func latencyEach(r *config.Rule, round []store.Probe) finding {
	f := finding{threshold: r.Threshold.Seconds()}
	var slow []store.Probe
	for _, p := range round {
		if p.State != store.StateFound {
			continue
		}
		f.value = max(f.value, p.Sighting.Latency.Seconds())
		if p.Sighting.Latency > r.Threshold {
			slow = append(slow, p)
		}
	}
	slices.SortFunc(slow, func(a, b store.Probe) int { return int(b.Sighting.Latency - a.Sighting.Latency) })
	f.bad, f.probes = len(slow) > 0, tokens(slow)
	f.summary = fmt.Sprintf("%d of %d probes over %s: %s", len(slow), len(round), r.Threshold,
		listed(slow, func(p store.Probe) string {
			return where(p) + " " + p.Sighting.Latency.Round(time.Millisecond).String()
		}))
	return f
}

func latencyPercentile(r *config.Rule, ps []store.Probe) finding {
	f := finding{threshold: r.Threshold.Seconds()}
	var rtt []float64
	for _, p := range ps {
		if p.State == store.StateFound {
			rtt = append(rtt, p.Sighting.Latency.Seconds())
		}
	}
	if len(rtt) < r.MinProbes {
		f.summary = fmt.Sprintf("%d probes found within %s, fewer than min_probes %d", len(rtt), r.Window, r.MinProbes)
		return f
	}
	slices.Sort(rtt)
	f.value = rtt[min(report.NearestRank(len(rtt), r.Percentile), len(rtt))-1]
	f.bad = f.value > f.threshold
	f.summary = fmt.Sprintf("p%g round trip %s over %d probes found within %s (threshold %s)", r.Percentile,
		time.Duration(f.value*float64(time.Second)).Round(time.Millisecond), len(rtt), r.Window, r.Threshold)
	return f
}

// placementClass is the placement a rule's placements name: spam, missing,
// tab or other ("" for the inbox and for probes never accepted).
func placementClass(p store.Probe) string {
	if p.State == store.StateMissing {
		return "missing"
	}
	switch c := verdict.Placement(p.Placement).Class(); c {
	case verdict.Spam, "tab", "other":
		return string(c)
	}
	return ""
}

// accepted are the probes a receiver took: the ones a placement is about.
func accepted(ps []store.Probe, placements []string) (acc, matching []store.Probe) {
	for _, p := range ps {
		if p.State != store.StateFound && p.State != store.StateMissing {
			continue
		}
		acc = append(acc, p)
		if c := placementClass(p); c != "" && slices.Contains(placements, c) {
			matching = append(matching, p)
		}
	}
	return acc, matching
}

func placementAny(r *config.Rule, round []store.Probe) finding {
	acc, bad := accepted(round, r.Placements)
	return finding{bad: len(bad) > 0, value: float64(len(bad)), probes: tokens(bad),
		summary: fmt.Sprintf("%d of %d probes in %s: %s", len(bad), len(acc), strings.Join(r.Placements, " or "),
			listed(bad, func(p store.Probe) string { return where(p) + " " + or(p.Placement, p.State) }))}
}

func placementRate(r *config.Rule, ps []store.Probe) finding {
	acc, bad := accepted(ps, r.Placements)
	f := finding{threshold: r.Rate, probes: tokens(bad)}
	if len(acc) < r.MinProbes {
		f.summary = fmt.Sprintf("%d probes accepted within %s, fewer than min_probes %d", len(acc), r.Window, r.MinProbes)
		return f
	}
	f.value = float64(len(bad)) * 100 / float64(len(acc))
	f.bad = f.value > r.Rate
	f.summary = fmt.Sprintf("%.1f%% of %d probes within %s in %s (threshold %g%%)", f.value, len(acc), r.Window,
		strings.Join(r.Placements, " or "), r.Rate)
	return f
}

func authFailures(r *config.Rule, round []store.Probe) finding {
	var bad []store.Probe
	why := map[int64]string{}
	found := 0
	for _, p := range round {
		if p.State != store.StateFound {
			continue
		}
		found++
		var fails []string
		for _, m := range r.Methods {
			if res := authResult(p.Auth, m); res != "pass" {
				fails = append(fails, m+"="+or(res, "none"))
			}
		}
		if r.Aligned && !alignedDKIM(p.Sighting.Analysis) {
			fails = append(fails, "no aligned DKIM signature")
		}
		if len(fails) > 0 {
			bad = append(bad, p)
			why[p.ID] = strings.Join(fails, " ")
		}
	}
	return finding{bad: len(bad) > 0, value: float64(len(bad)), probes: tokens(bad),
		summary: fmt.Sprintf("%d of %d probes found failed authentication: %s", len(bad), found,
			listed(bad, func(p store.Probe) string { return where(p) + " " + why[p.ID] }))}
}

func authResult(a store.Auth, method string) string {
	switch method {
	case "spf":
		return a.SPF
	case "dkim":
		return a.DKIM
	}
	return a.DMARC
}

// alignedDKIM reports whether a stored analysis holds a passing DKIM
// signature aligned with From.
func alignedDKIM(analysis string) bool {
	var a report.AnalysisJSON
	if json.Unmarshal([]byte(analysis), &a) != nil {
		return false
	}
	return slices.ContainsFunc(a.DKIMSignatures, func(s report.DKIMSignatureJSON) bool { return s.Result == "pass" && s.Aligned })
}

// submitted returns the probes that tried a submission, newest first.
func submitted(ps []store.Probe) []store.Probe {
	var out []store.Probe
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Submission.Outcome != "" {
			out = append(out, ps[i])
		}
	}
	return out
}

func smtpFailures(r *config.Rule, ps []store.Probe) finding {
	sub := submitted(ps)
	run := 0
	for run < len(sub) && sub[run].Submission.Outcome != "accepted" {
		run++
	}
	f := finding{bad: run >= r.Consecutive, value: float64(run), threshold: float64(r.Consecutive), probes: tokens(sub[:run])}
	if run == 0 {
		f.summary = "the latest submission was accepted"
		return f
	}
	s := sub[0].Submission
	reply := strings.TrimSpace(strings.Join([]string{itoa(s.Code), s.EnhancedCode, s.Text}, " "))
	if len(reply) > 200 {
		reply = reply[:200] + "..."
	}
	f.summary = fmt.Sprintf("%d submissions in a row failed; the latest (%s): %s at %s: %s", run, where(sub[0]),
		s.Outcome, or(s.Stage, "?"), or(reply, or(s.Reason, sub[0].Error)))
	return f
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

func tlsTrouble(r *config.Rule, ps []store.Probe, now time.Time) finding {
	sub := submitted(ps)
	if len(sub) == 0 {
		return finding{summary: "no submission to judge"}
	}
	latest := sub[0]
	if latest.Submission.TLSVersion == "" && latest.Submission.Outcome == "accepted" {
		for _, p := range sub[1:] {
			if p.Submission.TLSVersion != "" {
				return finding{bad: true, probes: []string{latest.Token},
					summary: fmt.Sprintf("TLS not negotiated for %s; it was (%s) for %s at %s", where(latest),
						p.Submission.TLSVersion, where(p), p.CreatedAt.Format(time.RFC3339))}
			}
		}
	}
	plain := latest.Submission.TLSVersion == "" && latest.Submission.Outcome == "accepted"
	for _, p := range sub {
		s := p.Submission
		if s.TLSVersion == "" || s.CertExpiry.IsZero() {
			continue
		}
		left := s.CertExpiry.Sub(now)
		f := finding{value: left.Hours() / 24, threshold: r.ExpiresWithin.Hours() / 24, bad: left < r.ExpiresWithin,
			summary: fmt.Sprintf("the certificate of %s (%s) expires %s, in %.1f days", or(s.TLSServer, p.Path),
				s.CertSubject, s.CertExpiry.Format(time.RFC3339), left.Hours()/24)}
		if f.bad {
			f.probes = []string{p.Token}
		}
		f.persists = plain
		return f
	}
	return finding{summary: "no certificate seen", persists: plain}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
