package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/oauth/oauthtest"
)

// oauthStage is the lab taking the test authorization server's tokens, and a
// config whose seed alice and path submission log in with OAuth2 while seed
// bob keeps his password. Every output of every command run through it is
// kept, to be searched for tokens.
type oauthStage struct {
	srv    *oauthtest.Server
	lab    *lab.Lab
	config string
	dir    string

	mu      sync.Mutex
	outputs []string
}

const oauthClientSecret = "oauth-client-secret-never-shown"

func newOAuthStage(t *testing.T) *oauthStage {
	t.Helper()
	st := &oauthStage{dir: t.TempDir()}
	// The lab validates the server's tokens; the server's browser user is
	// the lab's submission account.
	l, err := lab.Start(lab.Options{OAuth: &lab.OAuth{Validate: func(user, token string) error {
		st.mu.Lock()
		srv := st.srv
		st.mu.Unlock()
		return srv.Validate(user, token)
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	st.mu.Lock()
	st.srv = oauthtest.New(t, oauthtest.Options{ClientSecret: oauthClientSecret, BrowserUser: l.Username})
	st.mu.Unlock()
	st.lab = l
	alice, _ := l.Seed("alice")
	bob, _ := l.Seed("bob")
	t.Setenv("MF_OAUTH_CLIENT_SECRET", oauthClientSecret)
	t.Setenv("MF_BOB_PW", bob.Password)
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	cfg := fmt.Sprintf(`
[store]
path = "mailflow.db"

[oauth.lab]
name = "the test authorization server"
authorization_url = %q
token_url = %q
device_authorization_url = %q
scopes = ["https://mail.mailflow.test/"]
client_id = %q
client_secret_env = "MF_OAUTH_CLIENT_SECRET"

[providers.lab]
imap_host = "127.0.0.1"
imap_port = %s
imap_security = "tls"
domains = [%q]
oauth_provider = "lab"

[paths.submission]
host = "127.0.0.1"
port = %s
security = "starttls"
tls_server_name = "localhost"
ca_file = %q
username = %q
auth = "oauth2"
oauth_provider = "lab"
mail_from = "monitor@%s"

[seeds.alice]
address = %q
auth = "oauth2"
ca_file = %q
tls_server_name = "localhost"

[seeds.bob]
address = %q
password_env = "MF_BOB_PW"
ca_file = %q
tls_server_name = "localhost"

[checks.c]
paths = ["submission"]
seeds = ["alice", "bob"]
`, st.srv.AuthURL(), st.srv.TokenURL(), st.srv.DeviceURL(), st.srv.ClientID(), port(l.IMAP), l.SeedDomain,
		port(l.Submission), l.CAFile, l.Username, l.SenderDomain, alice.Address, l.CAFile, bob.Address, l.CAFile)
	st.config = filepath.Join(st.dir, "config.toml")
	if err := os.WriteFile(st.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return st
}

// run runs a mailflow command to its end and keeps its output.
func (st *oauthStage) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := mailflow(t, append(args, "--config", st.config)...)
	st.keep(out, errOut)
	return code, out, errOut
}

func (st *oauthStage) keep(s ...string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.outputs = append(st.outputs, s...)
}

// interact runs a mailflow command whose stderr asks the user for something:
// answer reads stderr line by line until it has done its part.
func (st *oauthStage) interact(t *testing.T, answer func(lines *bufio.Scanner), args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append(args, "--config", st.config), &out, io.MultiWriter(pw, &errOut))
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	answer(lines)
	go io.Copy(io.Discard, pr) // the rest of stderr
	code := <-done
	st.keep(out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// noTokens fails the test when any output, or what else is given, holds a
// token the server issued or the client secret.
func (st *oauthStage) noTokens(t *testing.T, extra ...string) {
	t.Helper()
	st.mu.Lock()
	all := strings.Join(append(st.outputs, extra...), "\n")
	st.mu.Unlock()
	issued := st.srv.Issued()
	if len(issued) == 0 {
		t.Fatal("no token was issued: the search proves nothing")
	}
	for _, tok := range append(issued, oauthClientSecret) {
		if strings.Contains(all, tok) {
			t.Errorf("an output holds a secret (%s…)", tok[:6])
		}
	}
}

// loginDevice logs seed alice in with a device code, approving it as the
// user would.
func (st *oauthStage) loginDevice(t *testing.T) (int, string, string) {
	t.Helper()
	alice, _ := st.lab.Seed("alice")
	return st.loginDeviceAs(t, "alice", alice.Username)
}

// loginDeviceAs logs the seed or path name in with a device code, approved
// for user.
func (st *oauthStage) loginDeviceAs(t *testing.T, name, user string) (int, string, string) {
	t.Helper()
	code := regexp.MustCompile(`enter the code (\w+)`)
	return st.interact(t, func(lines *bufio.Scanner) {
		for lines.Scan() {
			if m := code.FindStringSubmatch(lines.Text()); m != nil {
				if err := st.srv.Approve(m[1], user); err != nil {
					t.Error(err)
				}
				return
			}
		}
		t.Error("auth login --device showed no code")
	}, "auth", "login", name, "--device")
}

// TestProbeWithOAuth: once logged in, a round submits over the OAuth2 path
// and finds alice's probe over her OAuth2 IMAP login, and no token reaches
// an output or the database.
func TestProbeWithOAuth(t *testing.T) {
	st := newOAuthStage(t)
	if code, out, errOut := st.loginDevice(t); code != exitOK {
		t.Fatalf("auth login alice = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := st.loginDeviceAs(t, "submission", st.lab.Username); code != exitOK {
		t.Fatalf("auth login submission = %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut := st.run(t, "probe", "--json", "--log-level", "debug")
	if code == exitFailed || code == exitUsage {
		t.Fatalf("probe = %d:\n%s%s", code, out, errOut)
	}
	var probes []struct {
		Seed, State, Placement string
	}
	if err := json.Unmarshal([]byte(out), &probes); err != nil {
		t.Fatalf("probe --json: %v\n%s", err, out)
	}
	for _, p := range probes {
		if p.Seed == "alice" && (p.State != "found" || p.Placement != "inbox") {
			t.Errorf("alice's probe %s %s, want found in the inbox", p.State, p.Placement)
		}
	}
	mechs := map[string]bool{}
	for _, a := range st.lab.AuthAttempts() {
		mechs[a.Proto+" "+a.Mech+" "+fmt.Sprint(a.OK)] = true
	}
	if !mechs["smtp OAUTHBEARER true"] || !mechs["imap OAUTHBEARER true"] {
		t.Errorf("the lab saw %v, want OAUTHBEARER logins on SMTP and IMAP", mechs)
	}
	var db []string
	for _, f := range []string{"mailflow.db", "mailflow.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(st.dir, f))
		db = append(db, string(b))
	}
	st.noTokens(t, db...)
}

func TestAuthLoginDeviceThenSeeds(t *testing.T) {
	st := newOAuthStage(t)
	code, out, errOut := st.loginDevice(t)
	if code != exitOK || !strings.Contains(out, "seed alice logged in with lab") || !strings.Contains(out, "https://mail.mailflow.test/") {
		t.Fatalf("auth login alice --device = %d:\n%s%s", code, out, errOut)
	}
	tokenFile := filepath.Join(st.dir, "mailflow-tokens.json")
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v, mode %v; want it beside the database with mode 0600", tokenFile, err, fi.Mode().Perm())
	}

	code, out, errOut = st.run(t, "auth", "status")
	if code != exitProblem || !regexp.MustCompile(`alice\s+seed\s+lab\s+logged in\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+https://mail.mailflow.test/`).MatchString(out) ||
		!strings.Contains(out, "not logged in (mailflow auth login submission)") {
		t.Errorf("auth status = %d, want 1 (the path is not logged in) with alice's state:\n%s%s", code, out, errOut)
	}

	// The seed health check logs alice in with her token and bob with his password.
	code, out, errOut = st.run(t, "seeds", "--log-level", "debug")
	if code != exitOK || strings.Count(out, "INBOX=inbox Junk=junk") != 2 {
		t.Errorf("seeds = %d, want 0 with both seeds' folders:\n%s%s", code, out, errOut)
	}
	if got := st.lab.AuthAttempts(); len(got) != 1 || got[0].Mech != "OAUTHBEARER" || !got[0].OK {
		t.Errorf("the lab saw bearer logins %v, want alice's one OAUTHBEARER", got)
	}
	b, _ := os.ReadFile(tokenFile)
	st.noTokens(t, st.configCheck(t))
	if !strings.Contains(string(b), "refresh_token") {
		t.Error("the token file holds no refresh token")
	}
}

// configCheck returns what config check prints.
func (st *oauthStage) configCheck(t *testing.T) string {
	t.Helper()
	code, out, errOut := st.run(t, "config", "check")
	if code != exitOK || !strings.Contains(out, "oauth2 via lab") {
		t.Errorf("config check = %d, want 0 naming the OAuth2 logins:\n%s%s", code, out, errOut)
	}
	return out
}

func TestAuthLoginBrowser(t *testing.T) {
	st := newOAuthStage(t)
	url := regexp.MustCompile(`^\s+(http://127\.0\.0\.1:\d+/authorize\?\S+)$`)
	code, out, errOut := st.interact(t, func(lines *bufio.Scanner) {
		for lines.Scan() {
			if m := url.FindStringSubmatch(lines.Text()); m != nil {
				// The browser: the authorization server sends it back to mailflow's loopback listener.
				resp, err := http.Get(m[1])
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				return
			}
		}
		t.Error("auth login showed no URL")
	}, "auth", "login", "submission", "--no-browser")
	if code != exitOK || !strings.Contains(out, "path submission logged in with lab") {
		t.Fatalf("auth login submission = %d:\n%s%s", code, out, errOut)
	}
	if q := st.srv.LastAuthRequest(); q.Get("code_challenge_method") != "S256" || !strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") {
		t.Errorf("authorization request %v, want PKCE and a loopback redirect", q)
	}
	st.noTokens(t)
}

func TestSeedsReportsOAuthFailures(t *testing.T) {
	st := newOAuthStage(t)
	if code, out, errOut := st.loginDevice(t); code != exitOK {
		t.Fatalf("auth login = %d:\n%s%s", code, out, errOut)
	}
	alice, _ := st.lab.Seed("alice")
	st.srv.RevokeSubject(alice.Username) // the user removed mailflow's access at the provider

	code, out, errOut := st.run(t, "seeds", "--log-level", "debug")
	want := "alice (" + st.config + "): seed alice: oauth2 refresh: invalid_grant: Token has been expired or revoked. (run mailflow auth login alice)"
	if code != exitFailed || !strings.Contains(out, "FAILED oauth2 invalid_grant") || !strings.Contains(errOut, want) ||
		!strings.Contains(errOut, "1 of 2 seeds failed") {
		t.Errorf("seeds after the grant was revoked = %d, want 2, alice failed with the provider's code and description:\n%s%s", code, out, errOut)
	}
	if n := st.srv.RefreshCalls(); n != 1 {
		t.Errorf("refresh calls = %d, want 1: the refused access token, then one refresh", n)
	}

	code, out, errOut = st.run(t, "auth", "status")
	if code != exitProblem || !strings.Contains(out, "invalid_grant: Token has been expired or revoked.") {
		t.Errorf("auth status after a failed refresh = %d, want 1 and the last error:\n%s%s", code, out, errOut)
	}

	// Never logged in: the path's token is missing, which seeds does not
	// check; a seed would say to log in.
	code, out, errOut = st.run(t, "auth", "login", "bob")
	if code != exitUsage || !strings.Contains(errOut, "seed bob logs in with a password") {
		t.Errorf("auth login bob = %d, want 64 saying bob uses a password:\n%s%s", code, out, errOut)
	}
	b, _ := os.ReadFile(filepath.Join(st.dir, "mailflow-tokens.json"))
	if !strings.Contains(string(b), `"code": "invalid_grant"`) {
		t.Errorf("the token file does not record the last error:\n%s", b)
	}
	st.noTokens(t)
}

func TestAuthUsage(t *testing.T) {
	st := newOAuthStage(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"auth"}, `use "login NAME" or "status"`},
		{[]string{"auth", "login", "--config", st.config}, "name the seed or path to log in"},
		{[]string{"auth", "login", "nosuch", "--config", st.config}, `no seed or path "nosuch" logs in with OAuth2 (those that do: alice, submission)`},
	} {
		code, _, errOut := mailflow(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("mailflow %v = %d, %q; want 64 saying %q", tc.args, code, errOut, tc.want)
		}
	}
}
