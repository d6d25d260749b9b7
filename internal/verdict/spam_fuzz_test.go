package verdict

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzSpamVerdicts reads any header block and checks that SpamVerdicts never
// panics, gives the same answer twice, and keeps the promises of
// SpamVerdict: a known Spam value, finite scores, sorted and distinct
// filters, the fields it read, and a bounded Err.
func FuzzSpamVerdicts(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "spam", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/spam: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		fs, _ := ReadFields(header)
		vs := SpamVerdicts(fs)
		if again := SpamVerdicts(fs); !reflect.DeepEqual(vs, again) {
			t.Fatalf("SpamVerdicts differs between two calls:\n%+v\n%+v", vs, again)
		}
		for i, v := range vs {
			if i > 0 && vs[i-1].Filter >= v.Filter {
				t.Fatalf("verdicts not sorted by distinct filters: %q then %q", vs[i-1].Filter, v.Filter)
			}
			if v.Filter == "" || v.Filter != strings.ToLower(v.Filter) {
				t.Fatalf("verdict %+v: want a lower-case filter name", v)
			}
			if !slices.Contains([]string{SpamYes, SpamNo, SpamUnknown}, v.Spam) {
				t.Fatalf("verdict %+v: Spam %q is not yes, no or unknown", v, v.Spam)
			}
			for _, p := range []*float64{v.Score, v.Threshold} {
				if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
					t.Fatalf("verdict %+v: score or threshold %v is not finite", v, *p)
				}
			}
			if len(v.Fields) == 0 {
				t.Fatalf("verdict %+v names no field it was read from", v)
			}
			if len(v.Err) > 2000 {
				t.Fatalf("verdict %s: Err is %d bytes, want it bounded", v.Filter, len(v.Err))
			}
			for k := range v.Details {
				if k == "" || k != strings.ToUpper(k) {
					t.Fatalf("verdict %+v: Details key %q is not upper case", v, k)
				}
			}
			if v.Details != nil && len(v.Details) == 0 {
				t.Fatalf("verdict %+v: Details is empty but not nil", v)
			}
		}
	})
}
