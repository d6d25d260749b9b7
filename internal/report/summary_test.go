package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/internal/store"
)

// A fixture computed by hand: path "a" has 10 probes, 2 never accepted, 8
// accepted: 5 in the inbox, 1 in spam, 1 in a tab, 1 missing. The 7 found
// ones took 10, 20, ... 70 ms; 6 pass SPF, 5 DKIM, 4 DMARC; 6 of the 8
// accepted used TLS.
func TestSummaryByHand(t *testing.T) {
	var s Summary
	add := func(state, placement string, rtt float64, spf, dkim, dmarc string, tls bool) {
		s.Add(store.ReportRow{Key: "a", State: state, Placement: placement, LatencyMS: rtt, Found: state == "found",
			SPF: spf, DKIM: dkim, DMARC: dmarc, TLS: tls})
	}
	add("rejected", "rejected", 0, "", "", "", false)
	add("error", "error", 0, "", "", "", false)
	for i, pl := range []string{"inbox", "inbox", "inbox", "inbox", "inbox", "spam", "tab:promotions"} {
		pass := func(n int) string {
			if i < n {
				return "pass"
			}
			return "fail"
		}
		add("found", pl, float64(10*(i+1)), pass(6), pass(5), pass(4), i < 6)
	}
	add("missing", "missing", 0, "", "", "", false)
	s.Add(store.ReportRow{Key: "b", State: "pending"})

	g := s.Groups()
	if len(g) != 2 || g[0].Key != "a" || g[1].Key != "b" {
		t.Fatalf("groups %+v, want a and b", g)
	}
	a := g[0]
	want := Group{Key: "a", Sent: 10, Accepted: 8, Found: 7, Inbox: 62.5, Spam: 12.5, Tab: 12.5, Missing: 12.5,
		P50: 40, P90: 70, P99: 70, Max: 70, SPF: 600.0 / 7, DKIM: 500.0 / 7, DMARC: 400.0 / 7, TLS: 75}
	if a != want {
		t.Errorf("group a\n got %+v\nwant %+v", a, want)
	}
	if b := g[1]; b.Sent != 1 || b.Accepted != 0 || b.P99 != 0 {
		t.Errorf("group b %+v, want one probe, none accepted", b)
	}

	var out bytes.Buffer
	if err := WriteGroups(&out, g, "path", "table"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "62.5%") || !strings.Contains(out.String(), "40ms") {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	WriteGroups(&out, g, "path", "json")
	var back []Group
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back[0] != want {
		t.Errorf("json round trip: %v %+v", err, back)
	}
	out.Reset()
	WriteGroups(&out, g, "path", "csv")
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "a,10,8,7,62.5,12.5,12.5,0.0,12.5,40.0,70.0") {
		t.Errorf("csv:\n%s", out.String())
	}
	if err := WriteGroups(&out, g, "path", "xml"); err == nil {
		t.Error("format xml accepted")
	}
}
