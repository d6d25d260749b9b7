package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

func probe(state, placement string) store.Probe {
	return store.Probe{Path: "submission", Seed: "alice", State: state, Placement: placement}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		probes []store.Probe
		want   int
	}{
		{"all inbox", []store.Probe{probe("found", "inbox"), probe("found", "inbox")}, ExitOK},
		{"one spam", []store.Probe{probe("found", "inbox"), probe("found", "spam")}, ExitProblem},
		{"one missing", []store.Probe{probe("missing", "missing")}, ExitProblem},
		{"a tab is not the inbox", []store.Probe{probe("found", "tab:promotions")}, ExitProblem},
		{"rejected beats spam", []store.Probe{probe("found", "spam"), probe("rejected", "rejected")}, ExitFailed},
		{"imap error", []store.Probe{probe("error", "error")}, ExitFailed},
		{"deferred", []store.Probe{probe("deferred", "deferred")}, ExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Status(tc.probes); got != tc.want {
				t.Errorf("Status = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTableAndJSON(t *testing.T) {
	found := probe("found", "inbox")
	found.Token = "00112233445566778899aabbccddeeff"
	found.Sighting.Latency = 42300 * time.Microsecond
	found.Auth = store.Auth{SPF: "pass", DKIM: "pass", DMARC: "pass"}
	found.Submission = store.Submission{Outcome: "accepted", Code: 250, EnhancedCode: "2.0.0", TLSVersion: "TLS 1.3"}
	flagged := probe("found", "inbox")
	flagged.Seed = "dave"
	flagged.Sighting.Analysis = `{"summary": {"spam": "yes", "spam_filter": "microsoft"}}`
	rejected := probe("rejected", "rejected")
	rejected.Seed = "carol"
	rejected.Submission = store.Submission{Outcome: "rejected", Stage: "rcpt", Code: 550, EnhancedCode: "5.1.1", Text: "no such user"}

	var b bytes.Buffer
	if err := Table(&b, []store.Probe{found, flagged, rejected}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"accepted 250 2.0.0", "42.3ms", "rejected 550 5.1.1", "rejected at RCPT: no such user", "TLS 1.3",
		"dave: in the inbox, but the receiver's filter (microsoft) called it spam"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	b.Reset()
	if err := JSON(&b, []store.Probe{found, rejected}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("JSON has %d objects, want 2", len(got))
	}
	if got[0]["latency_ms"] != 42.3 || got[0]["placement"] != "inbox" {
		t.Errorf("first object latency_ms=%v placement=%v, want 42.3 inbox", got[0]["latency_ms"], got[0]["placement"])
	}
	if got[1]["latency_ms"] != nil || got[1]["found"] != nil {
		t.Errorf("rejected probe has latency_ms=%v found=%v, want null", got[1]["latency_ms"], got[1]["found"])
	}
}
