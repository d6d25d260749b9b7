package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the code")

// TestPrint compares what Print shows for testdata/print.toml with
// testdata/print.golden; go test -update rewrites it.
func TestPrint(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	t.Setenv("MF_TEST_URL", exampleURL)
	c, err := Load(filepath.Join("testdata", "print.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.Print(&out)
	got := out.Bytes()
	if strings.Contains(out.String(), testPassword) || strings.Contains(out.String(), "PRIVATE KEY") || strings.Contains(out.String(), "hooks.example.net") {
		t.Errorf("Print shows a secret:\n%s", got)
	}
	golden := filepath.Join("testdata", "print.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Print =\n%s\nwant (%s)\n%s", got, golden, want)
	}
}
