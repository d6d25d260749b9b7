package verdict

import (
	"flag"
	"os"
	"testing"
)

// update rewrites every golden file of the package's tests from the code
// (go test ./... -update); the corpus test reads it by name.
var update = flag.Bool("update", false, "rewrite the golden files under testdata from the code")

// golden compares got with the golden file, rewriting it first under -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n got\n%s\nwant\n%s", file, got, want)
	}
}
