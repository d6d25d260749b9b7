package oauth_test

// The token sources at work: seedbox and submit log in to the lab with
// bearer tokens that the test authorization server issued and that the lab
// validates with it.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/message"
	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/oauth/bearer"
	"github.com/mailflow/mailflow/internal/oauth/oauthtest"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/seedbox"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/submit"
)

// syncBuffer is a log sink tests search for tokens.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stage is a lab that takes the authorization server's tokens, with a log
// that every test searches for them.
type stage struct {
	srv  *oauthtest.Server
	lab  *lab.Lab
	file *oauth.File
	logs *syncBuffer
	log  *slog.Logger
	// refuse, when set, makes the lab refuse every token, valid or not.
	refuse bool
	mu     sync.Mutex
}

func newStage(t *testing.T, opts lab.Options, mechs ...string) *stage {
	t.Helper()
	st := &stage{srv: oauthtest.New(t, oauthtest.Options{ClientSecret: "test-client-secret"}), logs: &syncBuffer{}}
	st.log = slog.New(slog.NewTextHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Logger = st.log
	opts.OAuth = &lab.OAuth{Mechanisms: mechs, Validate: func(user, token string) error {
		st.mu.Lock()
		refuse := st.refuse
		st.mu.Unlock()
		if refuse {
			return errors.New("refused by the test")
		}
		return st.srv.Validate(user, token)
	}}
	l, err := lab.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	st.lab = l
	st.file = oauth.OpenFile(filepath.Join(t.TempDir(), "mailflow-tokens.json"))
	return st
}

func (st *stage) refuseAll() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.refuse = true
}

// login logs an account in by device code, the user approving at once, and
// returns its token source.
func (st *stage) login(t *testing.T, kind, name, user string) *oauth.Source {
	t.Helper()
	acct := oauth.Account{Kind: kind, Name: name, Login: name, Username: user, Profile: oauth.Profile{
		ID: "test", AuthURL: st.srv.AuthURL(), TokenURL: st.srv.TokenURL(), DeviceURL: st.srv.DeviceURL(),
		Scopes: []string{"https://mail.mailflow.test/"}, ClientID: st.srv.ClientID(),
	}}
	acct.Profile.ClientSecret = config.NewSecret("test-client-secret", "test")
	var code string
	l := &oauth.Login{Account: acct, File: st.file, Options: oauth.Options{Log: st.log},
		Sleep: func(context.Context, time.Duration) error { return st.srv.Approve(code, user) }}
	if err := l.Device(context.Background(), func(c oauth.DeviceCode) { code = c.UserCode }); err != nil {
		t.Fatalf("device login of %s: %v", name, err)
	}
	return oauth.NewSource(acct, st.file, oauth.Options{Log: st.log})
}

// noTokens fails the test when text holds any token the server issued.
func (st *stage) noTokens(t *testing.T, what, text string) {
	t.Helper()
	issued := st.srv.Issued()
	if len(issued) == 0 {
		t.Fatal("no token was issued; the search proves nothing")
	}
	for _, tok := range issued {
		if strings.Contains(text, tok) {
			t.Errorf("%s holds a token (%s…)", what, tok[:6])
		}
	}
}

func (st *stage) seedAccount(t *testing.T, seed string, ts bearer.TokenSource) seedbox.Account {
	t.Helper()
	s, ok := st.lab.Seed(seed)
	if !ok {
		t.Fatalf("no lab seed %s", seed)
	}
	host, port, _ := net.SplitHostPort(st.lab.IMAP)
	n, _ := strconv.Atoi(port)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(st.lab.CAPEM)
	return seedbox.Account{Name: seed, Host: host, Port: n, Security: seedbox.SecurityTLS,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, Username: s.Username, Tokens: ts,
		Cleanup: true, PollInterval: 5 * time.Second, Timeout: 5 * time.Second}
}

func (st *stage) attempts(proto string) (ok, failed int, mechs []string) {
	for _, a := range st.lab.AuthAttempts() {
		if a.Proto != proto {
			continue
		}
		mechs = append(mechs, a.Mech)
		if a.OK {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed, mechs
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSeedLogsInWithBearerToken(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{nil, bearer.OAuthBearer}, // both offered: the standard one
		{[]string{bearer.XOAuth2}, bearer.XOAuth2},
		{[]string{bearer.OAuthBearer}, bearer.OAuthBearer},
	} {
		t.Run(tc.want+"/"+strings.Join(tc.offered, "+"), func(t *testing.T) {
			st := newStage(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "alice"}}}, tc.offered...)
			alice, _ := st.lab.Seed("alice")
			src := st.login(t, "seed", "alice", alice.Username)
			s, err := seedbox.Dial(testCtx(t), st.seedAccount(t, "alice", src), st.log)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			folders, err := s.Folders(testCtx(t))
			s.Close()
			if err != nil || len(folders) != 2 {
				t.Errorf("folders after a bearer login: %v, %v", folders, err)
			}
			ok, failed, mechs := st.attempts("imap")
			if ok != 1 || failed != 0 || mechs[0] != tc.want {
				t.Errorf("IMAP logins: %d ok, %d failed with %v; want one %s", ok, failed, mechs, tc.want)
			}
			if n := st.srv.RefreshCalls(); n != 0 {
				t.Errorf("refresh calls = %d, want 0: the login's access token is fresh", n)
			}
			st.noTokens(t, "the log", st.logs.String())
		})
	}
}

func TestSeedRefreshesAfterRejection(t *testing.T) {
	st := newStage(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "alice"}}})
	alice, _ := st.lab.Seed("alice")
	src := st.login(t, "seed", "alice", alice.Username)
	tok, err := src.Token(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	st.srv.Revoke(tok) // still unexpired, but the server no longer honours it
	s, err := seedbox.Dial(testCtx(t), st.seedAccount(t, "alice", src), st.log)
	if err != nil {
		t.Fatalf("Dial after the access token was revoked: %v", err)
	}
	s.Close()
	if ok, failed, _ := st.attempts("imap"); ok != 1 || failed != 1 {
		t.Errorf("IMAP logins: %d ok, %d failed; want the refused one then one with the refreshed token", ok, failed)
	}
	if n := st.srv.RefreshCalls(); n != 1 {
		t.Errorf("refresh calls = %d, want 1", n)
	}
	st.noTokens(t, "the log", st.logs.String())
}

func TestSeedRefusedAfterRefresh(t *testing.T) {
	st := newStage(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "alice"}}})
	alice, _ := st.lab.Seed("alice")
	src := st.login(t, "seed", "alice", alice.Username)
	st.refuseAll()
	_, err := seedbox.Dial(testCtx(t), st.seedAccount(t, "alice", src), st.log)
	var re *bearer.RefusedError
	if !errors.As(err, &re) || re.Failure == nil || re.Failure.Status != "invalid_token" {
		t.Fatalf("Dial when every token is refused = %v, want a RefusedError with the server's status", err)
	}
	for _, want := range []string{"seed alice:", "OAUTHBEARER", "status invalid_token", "also after a refresh", "(run mailflow auth login alice)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ok, failed, _ := st.attempts("imap"); ok != 0 || failed != 2 {
		t.Errorf("IMAP logins: %d ok, %d failed; want 2 refused: one retry, no more", ok, failed)
	}
	if n := st.srv.RefreshCalls(); n != 1 {
		t.Errorf("refresh calls = %d, want 1", n)
	}
	st.noTokens(t, "the error", err.Error())
	st.noTokens(t, "the log", st.logs.String())
}

func TestSeedGrantRevoked(t *testing.T) {
	st := newStage(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "alice"}}})
	alice, _ := st.lab.Seed("alice")
	src := st.login(t, "seed", "alice", alice.Username)
	st.srv.RevokeSubject(alice.Username) // the user removed mailflow's access
	_, err := seedbox.Dial(testCtx(t), st.seedAccount(t, "alice", src), st.log)
	want := "seed alice: oauth2 refresh: invalid_grant: Token has been expired or revoked. (run mailflow auth login alice)"
	if err == nil || err.Error() != want {
		t.Fatalf("Dial after the grant was revoked = %v\nwant %s", err, want)
	}
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Errorf("the error does not carry the provider's code: %#v", err)
	}
	st.noTokens(t, "the error", err.Error())
	st.noTokens(t, "the log", st.logs.String())
}

func TestSubmitWithBearerToken(t *testing.T) {
	st := newStage(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "alice"}}})
	alice, _ := st.lab.Seed("alice")
	src := st.login(t, "path", "submission", st.lab.Username)
	host, port, _ := net.SplitHostPort(st.lab.Submission)
	n, _ := strconv.Atoi(port)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(st.lab.CAPEM)
	path := submit.Path{Name: "submission", Host: host, Port: n, Security: submit.SecuritySTARTTLS, TLSServerName: "localhost",
		RootCAs: pool, Username: st.lab.Username, Tokens: src, HELO: "client.mailflow.test",
		MailFrom: "monitor@" + st.lab.SenderDomain, Timeout: 5 * time.Second}
	send := func() submit.Result {
		t.Helper()
		tok, _ := message.NewToken()
		msg, err := message.Build(message.Probe{Token: tok, From: path.MailFrom, To: alice.Address})
		if err != nil {
			t.Fatal(err)
		}
		return submit.Mail(testCtx(t), path, []string{alice.Address}, msg, st.log)
	}
	var out strings.Builder // everything a probe row or a report would show
	var results []submit.Result
	record := func(r submit.Result) {
		results = append(results, r)
		out.WriteString(r.Transcript + "\n" + r.Reason + "\n" + r.Text + "\n")
		for _, s := range r.Steps {
			out.WriteString(s.Err + "\n" + s.Text + "\n")
		}
	}

	r := send()
	record(r)
	if r.Outcome != submit.Accepted || !strings.Contains(r.Transcript, "C: AUTH OAUTHBEARER ******") {
		t.Fatalf("send with a token: %s at %s (%s); transcript:\n%s", r.Outcome, r.Stage, r.Reason, r.Transcript)
	}

	tok, _ := src.Token(testCtx(t))
	st.srv.Revoke(tok)
	r = send()
	record(r)
	if r.Outcome != submit.Accepted || st.srv.RefreshCalls() != 1 {
		t.Fatalf("send after the token was revoked: %s (%s), %d refresh calls; want accepted after one refresh", r.Outcome, r.Reason, st.srv.RefreshCalls())
	}
	if ok, failed, _ := st.attempts("smtp"); ok != 2 || failed != 1 {
		t.Errorf("SMTP logins: %d ok, %d failed; want 2 ok and the one refused", ok, failed)
	}

	st.refuseAll()
	r = send()
	record(r)
	if r.Outcome != submit.Failed || r.Stage != submit.StageAuth || r.Code != 535 || r.EnhancedCode != "5.7.8" ||
		!strings.Contains(r.Reason, "also after a refresh") || !strings.Contains(r.Reason, "(run mailflow auth login submission)") {
		t.Errorf("send when every token is refused: %s at %s, %d %s, %q; want failed at auth with 535 5.7.8 and the login hint",
			r.Outcome, r.Stage, r.Code, r.EnhancedCode, r.Reason)
	}
	st.noTokens(t, "the submission results", out.String())
	st.noTokens(t, "the log", st.logs.String())
	db, rep := storeResults(t, results)
	st.noTokens(t, "the SQLite database", db)
	st.noTokens(t, "the report", rep)
}

// storeResults stores submissions as the runner does and returns the bytes
// of the SQLite files and the probes as `mailflow probe` prints them, table
// and JSON.
func storeResults(t *testing.T, results []submit.Result) (db, rep string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mailflow.db")
	d, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	round, err := d.StartRound(ctx, "c", now)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		p := &store.Probe{RoundID: round, Token: fmt.Sprintf("probe-%d", i), Check: "c", Path: "submission", Seed: "alice",
			CreatedAt: now, DeadlineAt: now.Add(time.Minute)}
		if err := d.InsertProbe(ctx, p); err != nil {
			t.Fatal(err)
		}
		var stages []store.Stage
		for _, s := range r.Steps {
			stages = append(stages, store.Stage{Stage: string(s.Stage), StartedAt: s.Start, Duration: s.Duration, Code: s.Code,
				EnhancedCode: s.EnhancedCode, Text: s.Text, Error: s.Err})
		}
		state := store.StateSent
		if r.Outcome != submit.Accepted {
			state = store.StateError
		}
		err := d.RecordSubmission(ctx, p.ID, state, "", store.Submission{StartedAt: r.Start, Duration: r.Duration,
			AcceptedAt: r.AcceptedAt, Outcome: string(r.Outcome), Stage: string(r.Stage), Code: r.Code,
			EnhancedCode: r.EnhancedCode, Text: r.Text, Reason: r.Reason, QueueID: r.QueueID, Transcript: r.Transcript}, stages, now)
		if err != nil {
			t.Fatal(err)
		}
	}
	probes, err := d.Probes(ctx)
	if err != nil || len(probes) != len(results) {
		t.Fatalf("stored probes: %d, %v", len(probes), err)
	}
	var b bytes.Buffer
	report.Table(&b, probes)
	report.JSON(&b, probes)
	if !strings.Contains(b.String(), "also after a refresh") {
		t.Errorf("the report does not show the refused login's reason:\n%s", b.String())
	}
	d.Close()
	var files bytes.Buffer
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		data, err := os.ReadFile(f)
		if err == nil {
			files.Write(data)
		}
	}
	if !bytes.Contains(files.Bytes(), []byte("AUTH OAUTHBEARER ******")) {
		t.Error("the database does not hold the masked transcript: the search would prove nothing")
	}
	return files.String(), b.String()
}

func TestSeedSendsIMAPID(t *testing.T) {
	st := newStage(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "alice"}}, CountIMAPID: true})
	alice, _ := st.lab.Seed("alice")
	src := st.login(t, "seed", "alice", alice.Username)
	for _, want := range []bool{false, true} {
		before := st.lab.IMAPIDs()
		acct := st.seedAccount(t, "alice", src)
		acct.IMAPID = want // the provider's imap_id
		s, err := seedbox.Dial(testCtx(t), acct, st.log)
		if err != nil {
			t.Fatalf("Dial with IMAPID %v: %v", want, err)
		}
		// The lab answers ID with BAD, as a server without the extension
		// would: the session goes on.
		folders, err := s.Folders(testCtx(t))
		s.Close()
		if err != nil || len(folders) != 2 {
			t.Errorf("IMAPID %v: folders %v, %v", want, folders, err)
		}
		sent := st.lab.IMAPIDs() - before
		if (sent == 1) != want || sent > 1 {
			t.Errorf("IMAPID %v: the lab saw %d ID commands", want, sent)
		}
	}
	st.noTokens(t, "the log", st.logs.String())
}
