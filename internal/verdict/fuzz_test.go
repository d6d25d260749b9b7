package verdict

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseAuthResults checks that any value parses without a panic, the same
// way twice, and into results that keep the package's promises.
func FuzzParseAuthResults(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "authres", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/authres: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, errA := ParseAuthResults(s)
		b, errB := ParseAuthResults(s)
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(errA, errB) {
			t.Fatalf("ParseAuthResults(%q) differs between two calls:\n%+v\n%+v", s, a, b)
		}
		if (errA == nil) != (a.Err == "") {
			t.Fatalf("ParseAuthResults(%q) error %v, Err %q: want both or neither", s, errA, a.Err)
		}
		// Raw is unfolded once and for all: parsing it again changes nothing.
		if again, _ := ParseAuthResults(a.Raw); !reflect.DeepEqual(again, a) {
			t.Fatalf("ParseAuthResults(Raw of %q) = %+v, want %+v", s, again, a)
		}
		if len(a.Err) > 1000 {
			t.Fatalf("ParseAuthResults(%q) Err is %d bytes, want it bounded", s, len(a.Err))
		}
		for _, r := range a.Results {
			if r.Method == "" || r.Value == "" {
				t.Fatalf("ParseAuthResults(%q) result %+v has an empty method or value", s, r)
			}
			if r.Method != strings.ToLower(r.Method) || r.Value != strings.ToLower(r.Value) {
				t.Fatalf("ParseAuthResults(%q) result %+v is not lower case", s, r)
			}
			for _, p := range r.Props {
				if p.Name == "" || p.Type != strings.ToLower(p.Type) || p.Name != strings.ToLower(p.Name) {
					t.Fatalf("ParseAuthResults(%q) prop %+v: want a lower-case name and type", s, p)
				}
			}
		}
	})
}
