package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/internal/lab"
)

// mailflow runs the command line in-process and returns its exit status, stdout and stderr.
func mailflow(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"nosuch"}, exitUsage},
		{[]string{"config"}, exitUsage},
		{[]string{"probe", "--no-such-flag"}, exitUsage},
		{[]string{"help"}, exitOK},
	} {
		if code, _, _ := mailflow(t, tc.args...); code != tc.want {
			t.Errorf("mailflow %v = %d, want %d", tc.args, code, tc.want)
		}
	}
}

func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	code, out, errOut := mailflow(t, "demo", "--db", db)
	if code != exitOK {
		t.Fatalf("demo = %d, want 0; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"relay", "submission", "smtps", "inbox", "spam", "pass"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "results stored in "+db) {
		t.Errorf("demo does not say where the database is:\n%s", errOut)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("demo database: %v", err)
	}
}

// labConfig writes a config.toml for the lab with a check "now" over the
// submission path and seeds.
func labConfig(t *testing.T, l *lab.Lab, seeds ...string) string {
	t.Helper()
	return labConfigWith(t, l, "[checks.now]\ndeadline = \"3s\"\npoll_interval = \"1s\"\n", seeds...)
}

// labConfigWith writes a config.toml for the lab, as a user would write one
// for their own servers, with secrets in the environment. check is the TOML of
// the check's table without its paths and seeds, which are added: the
// submission path and the seeds named.
func labConfigWith(t testing.TB, l *lab.Lab, check string, seeds ...string) string {
	t.Helper()
	return labConfigPaths(t, l, []string{"submission"}, check, seeds...)
}

// labConfigPaths is labConfigWith with the check's paths named: any of
// submission (587-like), relay (25-like) and smtps (465-like).
func labConfigPaths(t testing.TB, l *lab.Lab, paths []string, check string, seeds ...string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(key, l.DKIMKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAB_SUBMIT_PW", l.Password)
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	var b strings.Builder
	// A free port, so that tests of mailflow run never collide on 9717.
	fmt.Fprintf(&b, `%s
[paths.submission]
host = "127.0.0.1"
port = %s
security = "starttls"
tls_server_name = "localhost"
ca_file = %q
username = %q
password_env = "LAB_SUBMIT_PW"
mail_from = "monitor@%s"
[paths.submission.dkim]
selector = %q
key_file = "dkim.pem"

[paths.relay]
host = "127.0.0.1"
port = %s
tls_server_name = "localhost"
ca_file = %q
mail_from = "monitor@%s"

[paths.smtps]
host = "127.0.0.1"
port = %s
security = "tls"
tls_server_name = "localhost"
ca_file = %q
username = %q
password_env = "LAB_SUBMIT_PW"
mail_from = "monitor@%s"

[providers.lab]
name = "lab"
imap_host = "127.0.0.1"
imap_port = %s
imap_security = "tls"
junk_folders = ["Junk"]
authserv_ids = [%q]

%spaths = [%s]
seeds = [%s]
`, labWeb, port(l.Submission), l.CAFile, l.Username, l.SenderDomain, l.DKIMSelector,
		port(l.Relay), l.CAFile, l.SenderDomain,
		port(l.SMTPS), l.CAFile, l.Username, l.SenderDomain,
		port(l.IMAP), l.Hostname, check, quoteAll(paths), quoteAll(seeds))
	for _, name := range seeds {
		s, _ := l.Seed(name)
		env := "LAB_SEED_PW_" + strings.ToUpper(name)
		t.Setenv(env, s.Password)
		fmt.Fprintf(&b, "\n[seeds.%s]\naddress = %q\nprovider = \"lab\"\nca_file = %q\ntls_server_name = \"localhost\"\npassword_env = %q\n",
			name, s.Address, l.CAFile, env)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// labWeb is the [web] table of every lab config; setWeb replaces it.
const labWeb = "[web]\nlisten = \"127.0.0.1:0\"\n"

// setWeb replaces the [web] table of a lab config with web.
func setWeb(t *testing.T, path, web string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), labWeb) {
		t.Fatalf("%s has no [web] table to replace", path)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), labWeb, web, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func TestProbeExitStatus(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		seeds []string
		want  int
	}{
		{[]string{"alice"}, exitOK},
		{[]string{"alice", "bob"}, exitProblem},
		{[]string{"dave"}, exitProblem},
		{[]string{"alice", "carol"}, exitFailed},
	} {
		t.Run(strings.Join(tc.seeds, "+"), func(t *testing.T) {
			cfg := labConfig(t, l, tc.seeds...)
			code, out, errOut := mailflow(t, "probe", "--config", cfg, "--json")
			if code != tc.want {
				t.Errorf("probe = %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.want, out, errOut)
			}
			var probes []map[string]any
			if err := json.Unmarshal([]byte(out), &probes); err != nil {
				t.Fatalf("--json output does not parse: %v\n%s", err, out)
			}
			if len(probes) != len(tc.seeds) {
				t.Errorf("got %d probes, want %d", len(probes), len(tc.seeds))
			}
			if p := probes[0]; tc.seeds[0] == "alice" && (p["placement"] != "inbox" || p["auth"].(map[string]any)["dkim"] != "pass") {
				t.Errorf("alice's probe: %v, want inbox with dkim pass", p)
			}
			secrets := []string{l.Password}
			for _, s := range l.Seeds {
				secrets = append(secrets, s.Password)
			}
			db, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "mailflow.db"))
			wal, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "mailflow.db-wal"))
			for _, secret := range secrets {
				if strings.Contains(out+errOut, secret) {
					t.Error("a password appears in the output")
				}
				if bytes.Contains(db, []byte(secret)) || bytes.Contains(wal, []byte(secret)) {
					t.Error("a password is stored in the database")
				}
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := labConfig(t, l, "alice")
	code, out, errOut := mailflow(t, "config", "check", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "is valid") || strings.Contains(out, l.Password) {
		t.Errorf("config check = %d:\n%s%s", code, out, errOut)
	}
	os.Unsetenv("LAB_SUBMIT_PW")
	code, _, errOut = mailflow(t, "config", "check", "--config", cfg)
	if code != exitFailed || !strings.Contains(errOut, "paths.submission.password_env: LAB_SUBMIT_PW is not set") {
		t.Errorf("config check without the env var = %d:\n%s", code, errOut)
	}
}

func TestSeeds(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := labConfig(t, l, "alice", "bob")
	code, out, errOut := mailflow(t, "seeds", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "INBOX=inbox Junk=junk") || !strings.Contains(out, "IDLE") {
		t.Errorf("seeds = %d, want 0 and both folders with roles:\n%s%s", code, out, errOut)
	}
	t.Setenv("LAB_SEED_PW_BOB", "not-bobs-password")
	code, out, errOut = mailflow(t, "seeds", "--config", cfg)
	if code != exitFailed || !strings.Contains(errOut, "1 of 2 seeds failed") || !strings.Contains(errOut, "bob (") ||
		strings.Contains(out+errOut, "not-bobs-password") {
		t.Errorf("seeds with a wrong password = %d, want 2 naming bob without the password:\n%s%s", code, out, errOut)
	}
}
