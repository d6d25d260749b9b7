package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/oauth/oauthtest"
)

const (
	testUser  = "alice@seeds.mailflow.test"
	testScope = "https://mail.example/imap"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer is a slog logger writing into a buffer that tests search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fixture is an authorization server, a token file and an account.
type fixture struct {
	srv  *oauthtest.Server
	file *File
	acct Account
	clk  *clock
	logs *logBuffer
}

func newFixture(t *testing.T, opts oauthtest.Options) *fixture {
	t.Helper()
	f := &fixture{clk: newClock(), logs: &logBuffer{}}
	if opts.Now == nil {
		opts.Now = f.clk.Now
	}
	f.srv = oauthtest.New(t, opts)
	f.file = OpenFile(filepath.Join(t.TempDir(), "state", "mailflow-tokens.json"))
	f.acct = Account{Kind: "seed", Name: "gmail-1", Login: "gmail-1", Username: testUser, Profile: Profile{
		ID: "test", AuthURL: f.srv.AuthURL(), TokenURL: f.srv.TokenURL(), DeviceURL: f.srv.DeviceURL(),
		Scopes: []string{testScope}, AuthParams: map[string]string{"access_type": "offline"},
		ClientID: f.srv.ClientID(), ClientSecret: config.NewSecret(opts.ClientSecret, "test"),
	}}
	return f
}

// loggedIn stores a refresh token for the account, as a past login would have.
func (f *fixture) loggedIn(t *testing.T) string {
	t.Helper()
	rt := f.srv.Grant(testUser, testScope)
	if err := f.file.update(f.acct.Key(), func(e *entry) { e.RefreshToken, e.Provider = rt, "test" }); err != nil {
		t.Fatal(err)
	}
	return rt
}

func (f *fixture) source() *Source {
	return NewSource(f.acct, f.file, Options{Now: f.clk.Now, Log: f.logs.logger()})
}

func (f *fixture) entry(t *testing.T) *entry {
	t.Helper()
	e, err := f.file.get(f.acct.Key())
	if err != nil || e == nil {
		t.Fatalf("token file entry of %s: %v, %v", f.acct.Key(), e, err)
	}
	return e
}

// noTokens fails the test when any token the server issued appears in text.
func (f *fixture) noTokens(t *testing.T, what, text string) {
	t.Helper()
	issued := f.srv.Issued()
	if len(issued) == 0 {
		t.Fatal("the server issued no token; the search would prove nothing")
	}
	for _, tok := range issued {
		if strings.Contains(text, tok) {
			t.Errorf("%s holds the token %s…:\n%s", what, tok[:6], text)
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestDeviceLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Options{Interval: 2, ClientSecret: "client-secret-value"})
	f.srv.SlowDown(1)
	var waits []time.Duration
	var shown DeviceCode
	l := &Login{Account: f.acct, File: f.file, Options: Options{Now: f.clk.Now, Log: f.logs.logger()},
		Sleep: func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			f.clk.Add(d)
			if len(waits) == 3 { // the user approves during the third wait
				return f.srv.Approve(shown.UserCode, testUser)
			}
			return nil
		}}
	if err := l.Device(ctx(t), func(c DeviceCode) { shown = c }); err != nil {
		t.Fatalf("Device: %v", err)
	}
	if shown.UserCode == "" || !strings.HasPrefix(shown.VerificationURI, f.srv.URL) || shown.ExpiresAt.IsZero() {
		t.Errorf("shown %+v, want a user code, the server's verification URI and an expiry", shown)
	}
	// Poll 1 after the interval gets slow_down (+5s), poll 2 pending, poll 3 the tokens.
	if want := []time.Duration{2 * time.Second, 7 * time.Second, 7 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("waits between polls = %v, want %v", waits, want)
	}
	st, ok, err := f.file.Status(f.acct.Key())
	if err != nil || !ok || !st.LoggedIn || st.Provider != "test" || !slices.Equal(st.Scopes, []string{testScope}) || st.ValidUntil.IsZero() {
		t.Errorf("Status = %+v, %v, %v; want logged in with scope %s and an expiry", st, ok, err, testScope)
	}
	e := f.entry(t)
	if !slices.Contains(f.srv.Issued(), e.RefreshToken) || f.srv.Validate(testUser, e.AccessToken) != nil {
		t.Errorf("the token file does not hold the tokens the server issued")
	}
	fi, err := os.Stat(f.file.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	f.noTokens(t, "the log", f.logs.String())
}

func TestDeviceLoginDenied(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	var code string
	l := &Login{Account: f.acct, File: f.file, Options: Options{Now: f.clk.Now},
		Sleep: func(context.Context, time.Duration) error { return f.srv.Deny(code) }}
	err := l.Device(ctx(t), func(c DeviceCode) { code = c.UserCode })
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "access_denied" || !strings.Contains(err.Error(), "seed gmail-1: oauth2 device login: access_denied") {
		t.Fatalf("Device after a refusal = %v, want the provider's access_denied naming the seed", err)
	}
	if _, ok, _ := f.file.Status(f.acct.Key()); ok {
		t.Error("a refused login wrote the token file")
	}
	f.noTokens(t, "the error", err.Error())
}

func TestBrowserLogin(t *testing.T) {
	f := newFixture(t, oauthtest.Options{BrowserUser: testUser, ClientSecret: "client-secret-value"})
	l := &Login{Account: f.acct, File: f.file, Options: Options{Now: f.clk.Now, Log: f.logs.logger()}}
	var page string
	err := l.Browser(ctx(t), func(authURL string) {
		// The browser: the provider's page redirects to the loopback listener.
		resp, err := http.Get(authURL)
		if err != nil {
			t.Errorf("browser: %v", err)
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		page = b.String()
	})
	if err != nil {
		t.Fatalf("Browser: %v", err)
	}
	if !strings.Contains(page, "logged in") {
		t.Errorf("the redirect page says %q, want it to say the login worked", page)
	}
	q := f.srv.LastAuthRequest()
	if q.Get("code_challenge_method") != "S256" || q.Get("login_hint") != testUser || q.Get("access_type") != "offline" ||
		!strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") {
		t.Errorf("authorization request %v, want PKCE S256, login_hint, the profile's access_type and a loopback redirect", q)
	}
	if e := f.entry(t); f.srv.Validate(testUser, e.AccessToken) != nil || e.RefreshToken == "" {
		t.Error("the token file does not hold a working access token and a refresh token")
	}
	f.noTokens(t, "the log", f.logs.String())
}

func TestBrowserLoginRefused(t *testing.T) {
	f := newFixture(t, oauthtest.Options{}) // no browser user: the provider answers access_denied
	l := &Login{Account: f.acct, File: f.file}
	err := l.Browser(ctx(t), func(authURL string) {
		if resp, err := http.Get(authURL); err == nil {
			resp.Body.Close()
		}
	})
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "access_denied" || !strings.Contains(err.Error(), "run mailflow auth login gmail-1") {
		t.Fatalf("Browser when refused = %v, want access_denied and the login hint", err)
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	f := newFixture(t, oauthtest.Options{Lifetime: time.Hour})
	f.loggedIn(t)
	s := f.source()
	c := ctx(t)
	t1, err := s.Token(c)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.srv.RefreshCalls(); n != 1 {
		t.Fatalf("refresh calls after the first Token = %d, want 1 (nothing was cached)", n)
	}
	f.clk.Add(54 * time.Minute) // 6 minutes left: more than the 5-minute margin
	if t2, _ := s.Token(c); t2 != t1 || f.srv.RefreshCalls() != 1 {
		t.Errorf("with 6 minutes left: a new token %v or %d refresh calls, want the same token and 1 call", t2 != t1, f.srv.RefreshCalls())
	}
	f.clk.Add(2 * time.Minute) // 4 minutes left: inside the margin, still valid
	if err := f.srv.Validate(testUser, t1); err != nil {
		t.Fatalf("the old token should still be valid at the server: %v", err)
	}
	t3, err := s.Token(c)
	if err != nil || t3 == t1 || f.srv.RefreshCalls() != 2 {
		t.Fatalf("with 4 minutes left: Token = new %v, err %v, %d refresh calls; want a new token from a second refresh", t3 != t1, err, f.srv.RefreshCalls())
	}
	if err := f.srv.Validate(testUser, t3); err != nil {
		t.Errorf("the refreshed token does not validate: %v", err)
	}
	// A new process reads the stored token instead of refreshing.
	if t4, err := f.source().Token(c); err != nil || t4 != t3 || f.srv.RefreshCalls() != 2 {
		t.Errorf("a new source: token is the stored one %v (err %v), %d refresh calls; want the stored token and no refresh", t4 == t3, err, f.srv.RefreshCalls())
	}
	if st, _, _ := f.file.Status(f.acct.Key()); st.Refreshes != 2 || st.LastRefresh.IsZero() {
		t.Errorf("Status after two refreshes = %+v", st)
	}
}

func TestRefreshAfterRejection(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	f.loggedIn(t)
	s := f.source()
	c := ctx(t)
	t1, err := s.Token(c)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Revoke(t1) // the server stops honouring the access token early
	if f.srv.Validate(testUser, t1) == nil {
		t.Fatal("a revoked access token still validates")
	}
	if t2, _ := s.Token(c); t2 != t1 {
		t.Fatal("Token refreshed a token that has not expired and was not refused")
	}
	t2, err := s.Invalidate(c, t1)
	if err != nil || t2 == t1 || f.srv.Validate(testUser, t2) != nil {
		t.Fatalf("Invalidate = a new token %v, err %v; want a new token that validates", t2 != t1, err)
	}
	// A second connection that was refused the same old token gets the new one
	// without another refresh.
	if t3, err := s.Invalidate(c, t1); err != nil || t3 != t2 || f.srv.RefreshCalls() != 2 {
		t.Errorf("a late Invalidate of the old token = same as new %v, err %v, %d refresh calls; want the new token, 2 calls", t3 == t2, err, f.srv.RefreshCalls())
	}
	f.noTokens(t, "the log", f.logs.String())
}

func TestRevokedRefreshToken(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	rt := f.loggedIn(t)
	f.srv.Revoke(rt)
	_, err := f.source().Token(ctx(t))
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.Description != "Token has been expired or revoked." {
		t.Fatalf("Token with a revoked refresh token = %v, want the provider's invalid_grant and its description", err)
	}
	want := "seed gmail-1: oauth2 refresh: invalid_grant: Token has been expired or revoked. (run mailflow auth login gmail-1)"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	st, _, _ := f.file.Status(f.acct.Key())
	if st.LastError == nil || st.LastError.Code != "invalid_grant" || st.LastError.Message != want {
		t.Errorf("Status.LastError = %+v, want the failure recorded", st.LastError)
	}
	f.noTokens(t, "the error", err.Error())
	f.noTokens(t, "the log", f.logs.String())
}

func TestNotLoggedIn(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	_, err := f.source().Token(ctx(t))
	if !errors.Is(err, ErrNotLoggedIn) || !strings.Contains(err.Error(), "holds no refresh token") || !strings.Contains(err.Error(), "run mailflow auth login gmail-1") {
		t.Fatalf("Token without a login = %v, want ErrNotLoggedIn and the login hint", err)
	}
	if _, err := os.Stat(f.file.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed refresh of an unknown account created the token file: %v", err)
	}
}

func TestRotatedRefreshTokenSaved(t *testing.T) {
	f := newFixture(t, oauthtest.Options{Rotate: true})
	rt := f.loggedIn(t)
	c := ctx(t)
	if _, err := f.source().Token(c); err != nil {
		t.Fatal(err)
	}
	e := f.entry(t)
	if e.RefreshToken == rt || !slices.Contains(f.srv.Issued(), e.RefreshToken) {
		t.Fatalf("after a rotating refresh the file holds the old refresh token %v, want the new one", e.RefreshToken == rt)
	}
	// The old token is retired at the server: only the saved one works now.
	f.clk.Add(2 * time.Hour)
	if _, err := f.source().Token(c); err != nil {
		t.Fatalf("a new source could not refresh with the saved token: %v", err)
	}
	if f.srv.RefreshCalls() != 2 {
		t.Errorf("refresh calls = %d, want 2", f.srv.RefreshCalls())
	}
	if fi, err := os.Stat(f.file.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode after rewrites = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(f.file.Path()), ".*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left beside the token file: %v", left)
	}
}

func TestConcurrentRefreshesCoalesced(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	f.loggedIn(t)
	s := f.source()
	const callers = 8
	joined := make(chan struct{}, callers)
	s.joined = func() { joined <- struct{}{} }
	release := f.srv.Hold()
	defer release()
	c := ctx(t)
	tokens := make(chan string, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := s.Token(c)
			if err != nil {
				t.Error(err)
			}
			tokens <- tok
		}()
	}
	// Every caller but the first joins the refresh the first started, which
	// the server holds: none has a token yet.
	for range callers - 1 {
		select {
		case <-joined:
		case <-c.Done():
			t.Fatal("callers did not join the refresh in flight")
		}
	}
	release()
	wg.Wait()
	close(tokens)
	var first string
	for tok := range tokens {
		if first == "" {
			first = tok
		}
		if tok != first || tok == "" {
			t.Errorf("callers got different tokens")
		}
	}
	if n := f.srv.RefreshCalls(); n != 1 {
		t.Errorf("refresh calls = %d for %d concurrent callers, want 1", n, callers)
	}
}

func TestTokenFileRefusedWhenReadable(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	f.loggedIn(t)
	if err := os.Chmod(f.file.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := f.source().Token(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Token with a token file of mode 0644 = %v, want a refusal saying chmod 600", err)
	}
	f.noTokens(t, "the error", err.Error())
}

func TestSourcePrintsNoToken(t *testing.T) {
	f := newFixture(t, oauthtest.Options{})
	f.loggedIn(t)
	s := f.source()
	if _, err := s.Token(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	log.Info("source", "src", s)
	st, _, _ := f.file.Status(f.acct.Key())
	fmt.Fprintf(&out, "%v %+v %#v %v %+v", s, s, s, st, st)
	if !strings.Contains(out.String(), "seed gmail-1") {
		t.Errorf("the source does not name its account: %s", out.String())
	}
	f.noTokens(t, "printed source and status", out.String())
}
