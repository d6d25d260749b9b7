package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

// Group is one line of `mailflow report`: the probes of one path, seed,
// provider or check. Percentages of placement and TLS are of the accepted
// probes (the others never reached a mailbox); those of authentication are of
// the found ones, which alone carry headers. Round trips are in milliseconds,
// nearest-rank percentiles of the found probes, 0 when none was found.
type Group struct {
	Key      string  `json:"key"`
	Sent     int     `json:"sent"`
	Accepted int     `json:"accepted"`
	Found    int     `json:"found"`
	Inbox    float64 `json:"inbox_pct"`
	Spam     float64 `json:"spam_pct"`
	Tab      float64 `json:"tab_pct"`
	Other    float64 `json:"other_pct"`
	Missing  float64 `json:"missing_pct"`
	P50      float64 `json:"rtt_p50_ms"`
	P90      float64 `json:"rtt_p90_ms"`
	P99      float64 `json:"rtt_p99_ms"`
	Max      float64 `json:"rtt_max_ms"`
	SPF      float64 `json:"spf_pass_pct"`
	DKIM     float64 `json:"dkim_pass_pct"`
	DMARC    float64 `json:"dmarc_pass_pct"`
	TLS      float64 `json:"tls_pct"`
}

// Compute reports the probes of db created at or after since (all when since
// is zero), of check when not "", grouped by path, seed, provider or check.
// `mailflow report` and the daemon's /api/report both answer with it.
func Compute(ctx context.Context, db *store.DB, since time.Time, check, by string) ([]Group, error) {
	var s Summary
	if err := db.ReportRows(ctx, since, check, by, s.Add); err != nil {
		return nil, err
	}
	return s.Groups(), nil
}

// Summary aggregates report rows, fed one at a time to Add.
type Summary struct {
	groups map[string]*tally
}

type tally struct {
	sent, accepted, inbox, spam, tab, other, missing, spf, dkim, dmarc, tls int
	rtt                                                                     []float64
}

// Add counts one probe.
func (s *Summary) Add(r store.ReportRow) {
	if s.groups == nil {
		s.groups = map[string]*tally{}
	}
	t := s.groups[r.Key]
	if t == nil {
		t = &tally{}
		s.groups[r.Key] = t
	}
	t.sent++
	switch r.State {
	case store.StatePending, store.StateRejected, store.StateDeferred, store.StateError:
		return // never reached a mailbox (pending: not sent yet)
	}
	t.accepted++
	if r.TLS {
		t.tls++
	}
	switch p := r.Placement; {
	case p == "inbox":
		t.inbox++
	case p == "spam":
		t.spam++
	case strings.HasPrefix(p, "tab:"):
		t.tab++
	case strings.HasPrefix(p, "other:"):
		t.other++
	case r.State == store.StateMissing:
		t.missing++
	}
	if r.Found {
		t.rtt = append(t.rtt, r.LatencyMS)
		t.spf += passed(r.SPF)
		t.dkim += passed(r.DKIM)
		t.dmarc += passed(r.DMARC)
	}
}

func passed(result string) int {
	if result == "pass" {
		return 1
	}
	return 0
}

// Groups returns the groups in key order.
func (s *Summary) Groups() []Group {
	var out []Group
	for key, t := range s.groups {
		slices.Sort(t.rtt)
		g := Group{Key: key, Sent: t.sent, Accepted: t.accepted, Found: len(t.rtt),
			Inbox: pct(t.inbox, t.accepted), Spam: pct(t.spam, t.accepted), Tab: pct(t.tab, t.accepted),
			Other: pct(t.other, t.accepted), Missing: pct(t.missing, t.accepted), TLS: pct(t.tls, t.accepted),
			SPF: pct(t.spf, len(t.rtt)), DKIM: pct(t.dkim, len(t.rtt)), DMARC: pct(t.dmarc, len(t.rtt)),
			P50: rank(t.rtt, 50), P90: rank(t.rtt, 90), P99: rank(t.rtt, 99), Max: rank(t.rtt, 100)}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) * 100 / float64(of)
}

// rank is the nearest-rank percentile p of sorted xs, 0 when empty.
func rank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int((p*float64(len(sorted))+99)/100) - 1 // ceil(p/100 * n) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// WriteGroups writes the report as "table", "json" or "csv"; by names the
// grouping, the table's first column.
func WriteGroups(w io.Writer, groups []Group, by, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if groups == nil {
			groups = []Group{}
		}
		return enc.Encode(groups)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{by, "sent", "accepted", "found", "inbox_pct", "spam_pct", "tab_pct", "other_pct", "missing_pct",
			"rtt_p50_ms", "rtt_p90_ms", "rtt_p99_ms", "rtt_max_ms", "spf_pass_pct", "dkim_pass_pct", "dmarc_pass_pct", "tls_pct"})
		for _, g := range groups {
			f := func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
			cw.Write([]string{g.Key, strconv.Itoa(g.Sent), strconv.Itoa(g.Accepted), strconv.Itoa(g.Found), f(g.Inbox), f(g.Spam),
				f(g.Tab), f(g.Other), f(g.Missing), f(g.P50), f(g.P90), f(g.P99), f(g.Max), f(g.SPF), f(g.DKIM), f(g.DMARC), f(g.TLS)})
		}
		cw.Flush()
		return cw.Error()
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tSENT\tACCEPTED\tINBOX\tSPAM\tTAB+OTHER\tMISSING\tP50\tP90\tP99\tMAX\tSPF\tDKIM\tDMARC\tTLS\t\n", strings.ToUpper(by))
		for _, g := range groups {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%s\t%s\t%s\t%s\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t\n",
				g.Key, g.Sent, g.Accepted, g.Inbox, g.Spam, g.Tab+g.Other, g.Missing, ms(g.P50, g.Found), ms(g.P90, g.Found),
				ms(g.P99, g.Found), ms(g.Max, g.Found), g.SPF, g.DKIM, g.DMARC, g.TLS)
		}
		return tw.Flush()
	}
	return fmt.Errorf("--format %q: use table, json or csv", format)
}

func ms(v float64, found int) string {
	if found == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}
