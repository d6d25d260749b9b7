package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/report"
)

func TestReport(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := labConfig(t, l, "alice", "bob", "carol")
	for range 2 {
		mailflow(t, "probe", "--config", cfg)
	}
	code, out, errOut := mailflow(t, "report", "--config", cfg, "--by", "seed", "--format", "json")
	if code != exitOK {
		t.Fatalf("report = %d: %s", code, errOut)
	}
	var groups []report.Group
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]report.Group{}
	for _, g := range groups {
		got[g.Key] = g
	}
	if a := got["alice"]; a.Sent != 2 || a.Inbox != 100 || a.DMARC != 100 || a.TLS != 100 || a.P50 <= 0 || a.Max < a.P50 {
		t.Errorf("alice %+v, want 2 sent, all in the inbox, passing, over TLS, with round trips", a)
	}
	if b := got["bob"]; b.Sent != 2 || b.Spam != 100 {
		t.Errorf("bob %+v, want 2 sent, all in spam", b)
	}
	if c := got["carol"]; c.Sent != 2 || c.Accepted != 0 {
		t.Errorf("carol %+v, want 2 sent, none accepted", c)
	}
	code, out, _ = mailflow(t, "report", "--config", cfg, "--since", "7d")
	if code != exitOK || !strings.Contains(out, "PATH") || !strings.Contains(out, "submission") {
		t.Errorf("table report = %d:\n%s", code, out)
	}
	for _, args := range [][]string{{"--by", "color"}, {"--since", "yesterday"}, {"--format", "xml"}} {
		if code, _, errOut := mailflow(t, append([]string{"report", "--config", cfg}, args...)...); code != exitUsage || errOut == "" {
			t.Errorf("report %v = %d %q, want a usage error", args, code, errOut)
		}
	}
}
