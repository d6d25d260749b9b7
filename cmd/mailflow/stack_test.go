//go:build integration

package main

// Integration tests against the real stack of testdata/stack (Postfix, Dovecot,
// Rspamd, dnsmasq on loopback). `make integration` brings it up and runs them;
// without the stack they skip, saying how to run them.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/internal/report"
)

// stackEnv reads the stack's stack.env, or skips the test.
func stackEnv(t testing.TB) map[string]string {
	t.Helper()
	dir := os.Getenv("MAILFLOW_STACK_DIR")
	if dir == "" {
		dir = "/tmp/mailflow-stack"
	}
	f, err := os.Open(filepath.Join(dir, "stack.env"))
	if err != nil && os.Getenv("MAILFLOW_REQUIRE_STACK") == "1" {
		t.Fatalf("the real mail stack is not up: %v", err) // make integration: never skip silently
	}
	if err != nil {
		t.Skipf("the real mail stack is not up (%v): run `make integration` as root on Debian 12, which starts testdata/stack/up.sh", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// stackConfig writes a config.toml for the stack: the paths the stack offers
// and seed1..seed5 (each with seedKeys added), with check, a TOML
// [checks.NAME] table, appended.
func stackConfig(t testing.TB, env map[string]string, check string, seedKeys ...string) string {
	t.Helper()
	t.Setenv("STACK_SUBMIT_PW", env["STACK_SUBMIT_PASSWORD"])
	t.Setenv("STACK_WRONG_PW", "not-the-password")
	t.Setenv("STACK_SEED_PW", env["STACK_SEED_PASSWORD"])
	var b strings.Builder
	fmt.Fprintf(&b, `
[paths.submission]
host = "127.0.0.1"
port = %[1]s
security = "starttls"
tls_server_name = "smtp.sender.test"
ca_file = %[4]q
username = %[5]q
password_env = "STACK_SUBMIT_PW"
helo = "probe.sender.test"
mail_from = %[5]q

[paths.smtps]
host = "127.0.0.1"
port = %[2]s
security = "tls"
tls_server_name = "smtp.sender.test"
ca_file = %[4]q
username = %[5]q
password_env = "STACK_SUBMIT_PW"
helo = "probe.sender.test"
mail_from = %[5]q

# Like an application relaying straight to the MX, signing itself.
[paths.relay]
host = "127.0.0.1"
port = %[3]s
tls_server_name = "mx.seeds.test"
ca_file = %[4]q
helo = "probe.sender.test"
mail_from = %[5]q
[paths.relay.dkim]
domain = %[8]q
selector = %[9]q
key_file = %[10]q

[paths.wrong-password]
host = "127.0.0.1"
port = %[1]s
security = "starttls"
tls_server_name = "smtp.sender.test"
ca_file = %[4]q
username = %[5]q
password_env = "STACK_WRONG_PW"
mail_from = %[5]q

# STARTTLS required, against the MX listener that does not offer it.
[paths.starttls-missing]
host = "127.0.0.1"
port = %[6]s
security = "starttls"
tls_server_name = "mx.seeds.test"
ca_file = %[4]q
mail_from = %[5]q

# Unsigned, from a domain whose DMARC policy is reject and whose SPF allows nobody.
[paths.strict]
host = "127.0.0.1"
port = %[3]s
tls_server_name = "mx.seeds.test"
ca_file = %[4]q
helo = "probe.strict.test"
mail_from = "monitor@strict.test"

[providers.stack]
name = "the real stack"
imap_host = "127.0.0.1"
imap_port = %[7]s
imap_security = "tls"
junk_folders = ["Junk"]
authserv_ids = ["mx.seeds.test"]
spam_filters = ["rspamd"]
`, env["STACK_SUBMISSION"], env["STACK_SMTPS"], env["STACK_SMTP_IN"], env["STACK_CA"], env["STACK_SUBMIT_USER"],
		env["STACK_SMTP_IN_NOTLS"], env["STACK_IMAPS"], env["STACK_DKIM_DOMAIN"], env["STACK_DKIM_SELECTOR"], env["STACK_DKIM_KEY"])
	for _, addr := range strings.Split(env["STACK_SEEDS"], ",") {
		name, _, _ := strings.Cut(addr, "@")
		fmt.Fprintf(&b, "\n[seeds.%s]\naddress = %q\nprovider = \"stack\"\nca_file = %q\ntls_server_name = \"imap.seeds.test\"\npassword_env = \"STACK_SEED_PW\"\n%s",
			name, addr, env["STACK_CA"], strings.Join(seedKeys, ""))
	}
	// A seed whose mailbox is seed5's but whose address does not exist: its
	// probes are refused at RCPT while the mailbox can still be watched.
	fmt.Fprintf(&b, "\n[seeds.nosuch]\naddress = \"nosuch@seeds.test\"\nusername = \"seed5@seeds.test\"\nprovider = \"stack\"\nca_file = %q\ntls_server_name = \"imap.seeds.test\"\npassword_env = \"STACK_SEED_PW\"\n",
		env["STACK_CA"])
	b.WriteString("\n" + check)
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// probeStack runs `mailflow probe --json` on the config and returns the probes
// by "path/seed".
func probeStack(t testing.TB, cfg string) map[string]report.ProbeJSON {
	t.Helper()
	_, out, errOut := mailflow(t, "probe", "--config", cfg, "--json")
	var probes []report.ProbeJSON
	if err := json.Unmarshal([]byte(out), &probes); err != nil {
		t.Fatalf("probe --json: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	byKey := map[string]report.ProbeJSON{}
	for _, p := range probes {
		byKey[p.Path+"/"+p.Seed] = p
	}
	return byKey
}

func analysisOf(t *testing.T, p report.ProbeJSON) report.AnalysisJSON {
	t.Helper()
	var a report.AnalysisJSON
	if err := json.Unmarshal(p.Analysis, &a); err != nil {
		t.Fatalf("%s/%s: analysis %s: %v", p.Path, p.Seed, p.Analysis, err)
	}
	return a
}

var postfixQueueID = regexp.MustCompile(`^[0-9A-F]{6,}$|^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}$`)

// Each submission path delivers to the inbox, authenticated by the receiving
// Rspamd, with the TLS facts and the queue id Postfix gave.
func TestStackPathsDeliver(t *testing.T) {
	env := stackEnv(t)
	cfg := stackConfig(t, env, `[checks.deliver]
paths = ["submission", "smtps", "relay"]
seeds = ["seed1"]
deadline = "30s"
`)
	probes := probeStack(t, cfg)
	postfixLogs := readFile(t, env["STACK_POSTFIX_OUT_LOG"]) + readFile(t, env["STACK_POSTFIX_IN_LOG"])
	for _, path := range []string{"submission", "smtps", "relay"} {
		t.Run(path, func(t *testing.T) {
			p, ok := probes[path+"/seed1"]
			if !ok {
				t.Fatalf("no probe for %s/seed1", path)
			}
			if p.State != "found" || p.Placement != "inbox" {
				t.Fatalf("state %s placement %s (%s; smtp %s %d %s), want found inbox", p.State, p.Placement, p.Error,
					p.SMTP.Stage, p.SMTP.Code, p.SMTP.Text)
			}
			if p.Auth.AuthservID != env["STACK_AUTHSERV_ID"] || p.Auth.SPF != "pass" || p.Auth.DKIM != "pass" || p.Auth.DMARC != "pass" {
				t.Errorf("auth %+v, want spf, dkim and dmarc pass from %s", p.Auth, env["STACK_AUTHSERV_ID"])
			}
			if p.TLS == nil || !strings.HasPrefix(p.TLS.Version, "TLS 1.") || p.TLS.CertIssuer == "" {
				t.Errorf("tls %+v, want a verified TLS session", p.TLS)
			}
			if !postfixQueueID.MatchString(p.SMTP.QueueID) || !strings.Contains(postfixLogs, p.SMTP.QueueID+":") {
				t.Errorf("queue id %q, want one of Postfix's, seen in its log", p.SMTP.QueueID)
			}
			a := analysisOf(t, p)
			if len(a.DKIMSignatures) == 0 || !a.DKIMSignatures[0].Aligned || a.DKIMSignatures[0].Domain != env["STACK_DKIM_DOMAIN"] {
				t.Errorf("dkim signatures %+v, want an aligned one by %s", a.DKIMSignatures, env["STACK_DKIM_DOMAIN"])
			}
			if a.Summary.DMARCPolicy != "reject" {
				t.Errorf("dmarc policy %q, want the published reject", a.Summary.DMARCPolicy)
			}
			// Postfix in (and out, for the submission paths), then Dovecot's LMTP.
			if n := len(a.Hops); n < 2 || a.Hops[n-1].With != "LMTP" || !a.Hops[0].TLS {
				t.Errorf("hops %+v, want at least two, TLS on the first and Dovecot's LMTP last", a.Hops)
			}
			for i, h := range a.Hops {
				if h.DelaySeconds == nil || h.Skew || *h.DelaySeconds > 10 {
					t.Errorf("hop %d %+v: want a known delay of 0-10s from the hop before (or the submission)", i+1, h)
				}
			}
			if path == "submission" && (a.Hops[0].With != "ESMTPSA" || !a.Hops[0].Auth) {
				t.Errorf("first hop %+v, want ESMTPSA: TLS and AUTH on the submission server", a.Hops[0])
			}
		})
	}
}

// An unknown recipient, a wrong password and a missing STARTTLS each fail the
// way Postfix says, with its reply and enhanced status code.
func TestStackFailures(t *testing.T) {
	env := stackEnv(t)
	cfg := stackConfig(t, env, `[checks.fail]
paths = ["relay", "wrong-password", "starttls-missing"]
seeds = ["nosuch"]
deadline = "20s"
`)
	probes := probeStack(t, cfg)
	for _, tc := range []struct {
		key, state, stage string
		code              int
		enhanced, text    string
	}{
		// The MX knows its users; the submission server would accept and bounce later.
		{"relay/nosuch", "rejected", "rcpt", 550, "5.1.1", "User unknown"},
		{"wrong-password/nosuch", "error", "auth", 535, "5.7.8", "authentication failed"},
		{"starttls-missing/nosuch", "error", "starttls", 0, "", "STARTTLS"},
	} {
		p, ok := probes[tc.key]
		if !ok {
			t.Errorf("no probe %s", tc.key)
			continue
		}
		reply := p.SMTP.Text + " " + p.SMTP.Reason
		if p.State != tc.state || p.SMTP.Stage != tc.stage || p.SMTP.Code != tc.code || p.SMTP.EnhancedCode != tc.enhanced ||
			!strings.Contains(strings.ToLower(reply), strings.ToLower(tc.text)) {
			t.Errorf("%s: %s at %s, %d %s %q, want %s at %s, %d %s %q", tc.key, p.State, p.SMTP.Stage, p.SMTP.Code,
				p.SMTP.EnhancedCode, reply, tc.state, tc.stage, tc.code, tc.enhanced, tc.text)
		}
	}
}

// A message the filter calls spam is filed into Junk by Sieve, and the probe says spam.
func TestStackSpamLandsInJunk(t *testing.T) {
	env := stackEnv(t)
	cfg := stackConfig(t, env, `[checks.spam]
paths = ["submission"]
seeds = ["seed2"]
deadline = "30s"
body = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
`)
	p := probeStack(t, cfg)["submission/seed2"]
	if p.State != "found" || p.Placement != "spam" || p.Found == nil || p.Found.Folder != "Junk" {
		t.Fatalf("state %s placement %s found %+v (%s), want found in Junk as spam", p.State, p.Placement, p.Found, p.Error)
	}
	a := analysisOf(t, p)
	if a.Summary.Spam != "yes" || a.Summary.SpamFilter != "rspamd" {
		t.Errorf("summary spam %q by %q, want yes by rspamd", a.Summary.Spam, a.Summary.SpamFilter)
	}
	for _, v := range a.Spam {
		if v.Filter == "rspamd" && (v.Score == nil || *v.Score < 15 || len(v.Tests) == 0) {
			t.Errorf("rspamd verdict %+v, want its score (GTUBE scores 20 on the stack) and the symbols", v)
		}
	}
}

// Unsigned mail from a domain publishing p=reject whose SPF allows nobody:
// DMARC fails. The stack's Rspamd rejects it (see testdata/stack/README.md),
// or, where it does not, the probe records the failure.
func TestStackDMARCReject(t *testing.T) {
	env := stackEnv(t)
	cfg := stackConfig(t, env, `[checks.strict]
paths = ["strict"]
seeds = ["seed3"]
deadline = "15s"
`)
	p := probeStack(t, cfg)["strict/seed3"]
	switch p.State {
	case "rejected":
		if p.SMTP.Stage != "data" || p.SMTP.Code < 500 {
			t.Errorf("rejected at %s with %d %s, want a 5xx reply to DATA", p.SMTP.Stage, p.SMTP.Code, p.SMTP.Text)
		}
		t.Logf("the stack rejected it: %d %s %s", p.SMTP.Code, p.SMTP.EnhancedCode, p.SMTP.Text)
	case "found":
		if p.Auth.DMARC != "fail" || p.Auth.SPF != "fail" {
			t.Errorf("auth %+v, want spf and dmarc fail", p.Auth)
		}
	default:
		t.Errorf("state %s (%s), want rejected, or found with dmarc fail", p.State, p.Error)
	}
}

// The seed health check lists each seed's INBOX and Junk with their roles.
func TestStackSeeds(t *testing.T) {
	env := stackEnv(t)
	cfg := stackConfig(t, env, "[checks.none]\npaths = [\"submission\"]\nseeds = [\"seed1\"]\n")
	code, out, errOut := mailflow(t, "seeds", "--config", cfg)
	if code != exitOK {
		t.Fatalf("seeds = %d, want 0\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"seed1", "seed5", "INBOX=inbox", "Junk=junk"} {
		if !strings.Contains(out, want) {
			t.Errorf("seeds output lacks %q:\n%s", want, out)
		}
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
