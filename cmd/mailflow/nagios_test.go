package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/internal/lab"
)

// perfdata is one Nagios performance datum: 'label'=value[unit];warn;crit;min[;max].
var perfdata = regexp.MustCompile(`^'[^'=]+'=-?[0-9.]+(s|%|B|c)?;[0-9.]*;[0-9.]*;[0-9.]*(;[0-9.]*)?$`)

func TestProbeNagios(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		name  string
		seeds []string
		args  []string
		code  int
		want  string
	}{
		{"ok", []string{"alice"}, nil, 0, "MAILFLOW OK - 1/1 probes in the inbox"},
		{"slow", []string{"alice"}, []string{"-w", "1ns", "-c", "1h"}, 1, "MAILFLOW WARNING - submission/alice took"},
		{"spam", []string{"alice", "bob"}, nil, 2, "MAILFLOW CRITICAL - submission/bob in spam"},
		{"rejected", []string{"carol"}, nil, 2, "MAILFLOW CRITICAL - submission/carol rejected at RCPT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := labConfig(t, l, tc.seeds...)
			code, out, _ := mailflow(t, append([]string{"probe", "--config", cfg, "--nagios"}, tc.args...)...)
			if code != tc.code || !strings.HasPrefix(out, tc.want) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, out, tc.code, tc.want)
			}
			if strings.Count(out, "\n") != 1 {
				t.Errorf("output has %d lines, want one", strings.Count(out, "\n"))
			}
			_, perf, ok := strings.Cut(strings.TrimSpace(out), " | ")
			if !ok {
				t.Fatalf("no perfdata in %q", out)
			}
			for _, d := range strings.Fields(perf) {
				if !perfdata.MatchString(d) {
					t.Errorf("perfdata %q is not 'label'=value;warn;crit;min", d)
				}
			}
		})
	}

	// A config that cannot be read is UNKNOWN, said on the one line.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[paths.p]\nport = \"x\"\n"), 0o600)
	code, out, _ := mailflow(t, "probe", "--config", bad, "--nagios")
	if code != 3 || !strings.HasPrefix(out, "MAILFLOW UNKNOWN - ") || !strings.Contains(out, "bad.toml") {
		t.Errorf("bad config: exit %d %q, want 3 and UNKNOWN naming the file", code, out)
	}
}
