package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds documents to the loader: it must never panic, must return
// either a config or problems, and no problem may show a secret.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.toml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[seeds.s]\naddress = \"a@b.c\"\npassword = \"" + testPassword + "\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		t.Setenv("MF_TEST_PW", testPassword)
		c, err := load(filepath.Join("testdata", "fuzz.toml"), data)
		if (c == nil) == (err == nil) {
			t.Fatalf("load = %v, %v; want exactly one of a config and problems", c, err)
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Fatalf("a problem shows a secret: %v", err)
		}
	})
}
