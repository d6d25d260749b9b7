package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
)

func TestCAPoolsReadOnceAndOnChange(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, l.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	var c caPools
	first, err := c.get(file)
	if err != nil || first == nil {
		t.Fatalf("get = %v, %v, want a pool", first, err)
	}
	if again, _ := c.get(file); again != first {
		t.Error("an unchanged file was read again, want the cached pool")
	}
	// A rotated CA file is read anew.
	if err := os.WriteFile(file, append(l.CAPEM, l.CAPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(file, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	if changed, _ := c.get(file); changed == first {
		t.Error("a changed file gave the cached pool, want it read again")
	}
	if pool, err := c.get(""); pool != nil || err != nil {
		t.Errorf(`get("") = %v, %v, want nil, nil (system roots)`, pool, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o644)
	if _, err := c.get(bad); err == nil {
		t.Error("a file without certificates gave no error")
	}
}
