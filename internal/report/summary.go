package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
// of the found probes, 0 when none was found. Max is exact. P50, P90 and P99
// are nearest-rank percentiles read from a histogram of 1 ms buckets: each is
// the longest round trip in the bucket that holds the exact percentile, so it
// is never below it and less than 1 ms above it.
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
// is zero), of check when not "", grouped by path, seed, provider or check, in
// key order. `mailflow report` and the daemon's /api/report both answer with
// it. SQLite counts (store.ReportTallies); Compute turns the counts into
// percentages and percentiles.
func Compute(ctx context.Context, db *store.DB, since time.Time, check, by string) ([]Group, error) {
	tallies, err := db.ReportTallies(ctx, since, check, by)
	if err != nil {
		return nil, err
	}
	var out []Group
	for _, t := range tallies {
		out = append(out, Group{Key: t.Key, Sent: t.Sent, Accepted: t.Accepted, Found: t.Found,
			Inbox: pct(t.Inbox, t.Accepted), Spam: pct(t.Spam, t.Accepted), Tab: pct(t.Tab, t.Accepted),
			Other: pct(t.Other, t.Accepted), Missing: pct(t.Missing, t.Accepted), TLS: pct(t.TLS, t.Accepted),
			SPF: pct(t.SPF, t.Found), DKIM: pct(t.DKIM, t.Found), DMARC: pct(t.DMARC, t.Found),
			P50: rank(t.RTT, t.Found, 50), P90: rank(t.RTT, t.Found, 90), P99: rank(t.RTT, t.Found, 99),
			Max: rank(t.RTT, t.Found, 100)})
	}
	return out, nil
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) * 100 / float64(of)
}

// NearestRank is the rank, from 1, of the nearest-rank percentile p (0-100)
// of n values: ceil(p/100 * n), at least 1.
func NearestRank(n int, p float64) int {
	return max(int(math.Ceil(p/100*float64(n))), 1)
}

// rank is the nearest-rank percentile p of n round trips from their
// histogram: the longest round trip in the bucket that holds the
// ceil(p/100 * n)th shortest. It is 0 when n is.
func rank(rtt []store.LatencyBucket, n int, p float64) float64 {
	if n == 0 || len(rtt) == 0 {
		return 0
	}
	r := NearestRank(n, p)
	for _, b := range rtt {
		if r -= b.N; r <= 0 {
			return b.MaxMS
		}
	}
	return rtt[len(rtt)-1].MaxMS
}

// Formats are what WriteGroups writes.
var Formats = []string{"table", "json", "csv"}

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
