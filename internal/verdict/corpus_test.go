package verdict_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/verdict"
)

// updating reports -update, declared by the package's internal tests
// (golden_test.go): this file is in verdict_test, which imports report,
// which imports verdict.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// corpusTrust reads testdata/messages/trust.txt: one line per message,
// "FILE ID[,ID...] [topmost-without-id]", "-" for no id; # starts a comment.
func corpusTrust(t *testing.T) map[string]verdict.Trust {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "messages", "trust.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]verdict.Trust{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) < 2 {
			t.Fatalf("trust.txt: %q: want FILE IDS [topmost-without-id]", line)
		}
		var tr verdict.Trust
		if parts[1] != "-" {
			tr.IDs = strings.Split(parts[1], ",")
		}
		tr.TopmostWithoutID = len(parts) > 2 && parts[2] == "topmost-without-id"
		out[parts[0]] = tr
	}
	return out
}

// TestCorpus analyses every message under testdata/messages and compares the
// JSON analysis with its golden file. Rewrite them with -update, then
// read the diff: each golden is a claim about what the header means.
func TestCorpus(t *testing.T) {
	trust := corpusTrust(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "messages", "*.eml"))
	if len(files) == 0 {
		t.Fatal("no messages in testdata/messages")
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".eml"), func(t *testing.T) {
			tr, ok := trust[name]
			if !ok {
				t.Fatalf("%s has no line in trust.txt", name)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a, err := verdict.Analyze(data, tr, time.Time{})
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			var got bytes.Buffer
			if err := report.WriteAnalysisJSON(&got, a); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(file, ".eml") + ".golden.json"
			if updating() {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Corpus -update to write it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("analysis of %s differs from %s:\n%s", name, golden, got.String())
			}
		})
	}
}

// BenchmarkAnalyze10k analyses 10,000 headers per op, cycling through the
// corpus's ordinary messages (the hostile and malformed ones left out):
// Authentication-Results, ARC, Received hops and spam verdicts of each.
func BenchmarkAnalyze10k(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "messages", "*.eml"))
	var headers [][]byte
	var names []string
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "hostile-") || strings.HasPrefix(name, "malformed-") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		headers, names = append(headers, data), append(names, name)
	}
	tr := verdict.Trust{IDs: []string{"mx.google.com"}, SpamFilters: []string{"rspamd"}}
	b.ReportAllocs()
	for b.Loop() {
		for i := range 10000 {
			if _, err := verdict.Analyze(headers[i%len(headers)], tr, time.Time{}); err != nil {
				b.Fatalf("%s: %v", names[i%len(names)], err)
			}
		}
	}
	b.ReportMetric(float64(len(headers)), "messages")
}
