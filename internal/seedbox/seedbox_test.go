package seedbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/message"
)

var discard = slog.New(slog.DiscardHandler)

func newLab(t *testing.T) *lab.Lab {
	t.Helper()
	return newLabWith(t, lab.Options{})
}

func newLabWith(t *testing.T, opts lab.Options) *lab.Lab {
	t.Helper()
	l, err := lab.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// account returns the IMAP account of a lab seed over addr.
func account(t *testing.T, l *lab.Lab, seed, addr, security string) Account {
	t.Helper()
	s, ok := l.Seed(seed)
	if !ok {
		t.Fatalf("lab has no seed %s", seed)
	}
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.CAPEM)
	return Account{Name: seed, Host: host, Port: n, Security: security, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
		Username: s.Username, Password: s.Password, Cleanup: true, PollInterval: 5 * time.Second, Timeout: 5 * time.Second}
}

// deliver sends a probe with token to a lab seed through the plain relay.
func deliver(t *testing.T, l *lab.Lab, seed, token string) {
	t.Helper()
	s, _ := l.Seed(seed)
	msg, err := message.Build(message.Probe{Token: token, From: "monitor@" + l.SenderDomain, To: s.Address})
	if err == nil {
		err = l.Inject(seed, msg)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// watch starts a Watcher on acct, closed with the test; ctx bounds the test's
// waits, and found receives what the watcher is told to expect.
func watch(t *testing.T, acct Account) (ctx context.Context, w *Watcher, found chan Found) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	w, err := Watch(ctx, acct, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return ctx, w, make(chan Found, 16)
}

func token(t *testing.T) string {
	tok, err := message.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestFoldersOfLabSeed(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct{ name, addr, security string }{
		{"implicit TLS", l.IMAP, SecurityTLS},
		{"STARTTLS", l.IMAPStartTLS, SecuritySTARTTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Dial(context.Background(), account(t, l, "alice", tc.addr, tc.security), discard)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			folders, err := s.Folders(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, f := range folders {
				got += f.Name + "=" + f.Role + "(" + f.How + ") "
			}
			if want := "INBOX=inbox(inbox) Junk=junk(special-use) "; got != want {
				t.Errorf("folders = %q, want %q", got, want)
			}
		})
	}
}

func TestDialRefusals(t *testing.T) {
	l := newLab(t)
	plain := account(t, l, "alice", l.IMAPStartTLS, SecurityNone)
	if _, err := Dial(context.Background(), plain, discard); err == nil || !strings.Contains(err.Error(), "allow_plaintext_auth") {
		t.Errorf("login without TLS: %v, want a refusal naming allow_plaintext_auth", err)
	}
	wrong := account(t, l, "alice", l.IMAP, SecurityTLS)
	wrong.Password = "pw-not-shown-1234"
	_, err := Dial(context.Background(), wrong, discard)
	if err == nil || !strings.Contains(err.Error(), "seed alice") || strings.Contains(err.Error(), wrong.Password) {
		t.Errorf("wrong password: %v, want an error naming the seed and not the password", err)
	}
	untrusted := account(t, l, "alice", l.IMAP, SecurityTLS)
	untrusted.TLSConfig = nil
	if _, err := Dial(context.Background(), untrusted, discard); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, want a certificate error", err)
	}
}

func TestWatchFindsExpectedTokensOnly(t *testing.T) {
	l := newLab(t)
	ctx, w, found := watch(t, account(t, l, "bob", l.IMAP, SecurityTLS))
	ours, theirs := token(t), token(t)
	w.Expect(found, ours)
	start := time.Now()
	deliver(t, l, "bob", theirs) // another monitor's probe in a shared box
	deliver(t, l, "bob", ours)
	var f Found
	select {
	case f = <-found:
	case <-ctx.Done():
		t.Fatal("probe not found")
	}
	if f.Token != ours || f.Folder != "Junk" || f.Role != RoleJunk {
		t.Errorf("found %s in %s (%s), want our token in Junk (junk)", f.Token, f.Folder, f.Role)
	}
	// IDLE reports the delivery at once; the 5s poll interval would be slower.
	if d := f.SeenAt.Sub(start); d <= 0 || d > 4*time.Second {
		t.Errorf("seen %s after delivery, want well within the poll interval", d)
	}
	if f.InternalDate.IsZero() || !bytes.Contains(f.Header, []byte(ours)) {
		t.Errorf("found without INTERNALDATE or header: %+v", f)
	}
	f.Stored()
	w.Close()
	if n, _ := l.Count("bob", "Junk"); n != 1 {
		t.Errorf("Junk holds %d messages after cleanup, want 1 (the other monitor's probe stays)", n)
	}
	select {
	case extra := <-found:
		t.Errorf("reported a probe that was not expected: %s", extra.Token)
	default:
	}
}

func TestUnstoredProbeIsKept(t *testing.T) {
	l := newLab(t)
	ctx, w, found := watch(t, account(t, l, "alice", l.IMAP, SecurityTLS))
	tok := token(t)
	w.Expect(found, tok)
	deliver(t, l, "alice", tok)
	select {
	case <-found: // not acknowledged as stored
	case <-ctx.Done():
		t.Fatal("probe not found")
	}
	w.Close()
	if n, _ := l.Count("alice", "INBOX"); n != 1 {
		t.Errorf("INBOX holds %d messages, want 1: a probe whose facts were not stored must not be deleted", n)
	}
}

func TestWatchPollsWithoutIDLE(t *testing.T) {
	l := newLabWith(t, lab.Options{NoIDLE: true})
	acct := account(t, l, "alice", l.IMAP, SecurityTLS)
	acct.PollInterval = 200 * time.Millisecond
	ctx, w, found := watch(t, acct)
	tok := token(t)
	w.Expect(found, tok)
	deliver(t, l, "alice", tok)
	select {
	case f := <-found:
		if f.Token != tok || f.Role != RoleInbox {
			t.Errorf("found %s in %s, want our token in the inbox", f.Token, f.Role)
		}
	case <-ctx.Done():
		t.Fatal("probe not found by polling")
	}
}

func TestInspect(t *testing.T) {
	l := newLab(t)
	deliver(t, l, "bob", token(t)) // a probe nobody deleted, in Junk
	h, err := Inspect(context.Background(), account(t, l, "bob", l.IMAP, SecurityTLS), time.Now().Add(time.Hour), discard)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]FolderHealth{}
	for _, f := range h.Folders {
		got[f.Role] = f
	}
	if j := got[RoleJunk]; j.Name != "Junk" || j.Probes != 1 || j.Stale != 1 || j.Messages != 1 {
		t.Errorf("junk = %+v, want Junk with 1 message, 1 probe, 1 stale", j)
	}
	if in := got[RoleInbox]; in.Name != "INBOX" || in.Probes != 0 {
		t.Errorf("inbox = %+v, want INBOX without probes", in)
	}
	if !slices.Contains(h.Caps, "IDLE") || h.Login <= 0 {
		t.Errorf("caps %v login %s, want IDLE and a login time", h.Caps, h.Login)
	}
	if _, err := Inspect(context.Background(), account(t, l, "alice", "127.0.0.1:1", SecurityTLS), time.Now(), discard); err == nil ||
		!strings.Contains(err.Error(), "seed alice") {
		t.Errorf("Inspect of a dead server = %v, want an error naming the seed", err)
	}
}

func TestPurge(t *testing.T) {
	l := newLab(t)
	ours, theirs := token(t), token(t)
	deliver(t, l, "alice", ours)
	deliver(t, l, "alice", theirs) // another monitor's probe in a shared box
	deliver(t, l, "bob", token(t))
	acct := account(t, l, "alice", l.IMAP, SecurityTLS)
	mine := func(tok string) bool { return tok == ours }
	if n, err := Purge(context.Background(), acct, time.Now().Add(-time.Hour), mine, discard); err != nil || n != 0 {
		t.Errorf("Purge of probes older than an hour = %d, %v, want 0: the probe is new", n, err)
	}
	if n, err := Purge(context.Background(), acct, time.Now().Add(time.Minute), mine, discard); err != nil || n != 1 {
		t.Errorf("Purge = %d, %v, want 1", n, err)
	}
	if n, _ := l.Count("alice", "INBOX"); n != 1 {
		t.Errorf("alice's INBOX holds %d messages after purge, want 1 (the other monitor's)", n)
	}
	if n, _ := l.Count("bob", "Junk"); n != 1 {
		t.Errorf("bob's Junk holds %d messages, want 1: purge touched another seed", n)
	}
}

func TestWatchRecoversFromACutConnection(t *testing.T) {
	l := newLab(t)
	ctx, w, found := watch(t, account(t, l, "alice", l.IMAP, SecurityTLS))
	tok := token(t)
	w.Expect(found, tok) // the junk folder connects when there is something to find
	waitFor(t, "inbox and junk connections", func() bool { open, _ := l.IMAPConnections(); return open == 2 })
	if n := l.CutIMAP(); n != 2 {
		t.Fatalf("cut %d connections, want 2 (inbox and junk watchers)", n)
	}
	deliver(t, l, "alice", tok)
	select {
	case f := <-found:
		if f.Token != tok {
			t.Errorf("found %s, want %s", f.Token, tok)
		}
		if f.SeenAt.Before(f.InternalDate.Truncate(time.Second)) {
			t.Errorf("seen at %s before it was stored at %s", f.SeenAt, f.InternalDate)
		}
	case <-ctx.Done():
		t.Fatal("probe not found after the connection was cut")
	}
	select {
	case err := <-w.Errors():
		if err == nil {
			t.Error("watcher reported a nil error")
		}
	default:
		t.Error("the cut was not reported on Errors")
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("still waiting for %s after 10s", what)
}

// With fast_poll, a seed whose server gives no news is searched every
// FastPoll after a probe is expected, not every PollInterval.
func TestFastPollAfterExpect(t *testing.T) {
	l := newLabWith(t, lab.Options{NoIDLE: true})
	acct := account(t, l, "alice", l.IMAP, SecurityTLS)
	acct.PollInterval = 5 * time.Second
	acct.FastPoll = 20 * time.Millisecond
	ctx, w, found := watch(t, acct)
	tok := token(t)
	w.Expect(found, tok)
	time.Sleep(100 * time.Millisecond) // the folders are polling fast by now
	start := time.Now()
	deliver(t, l, "alice", tok)
	select {
	case f := <-found:
		if d := f.SeenAt.Sub(start); d > 2*time.Second {
			t.Errorf("found %s after delivery, want well under the 5s poll interval", d)
		}
	case <-ctx.Done():
		t.Fatal("probe not found")
	}
}

// A folder named in the account's Extra is watched too: a probe a rule filed
// there is found in it, with the role other.
func TestExtraFolders(t *testing.T) {
	l := newLabWith(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "erin", Rule: lab.RuleArchive}}})
	acct := account(t, l, "erin", l.IMAP, SecurityTLS)
	acct.Extra = []string{"Archive"}
	ctx, w, found := watch(t, acct)
	tok := token(t)
	w.Expect(found, tok)
	deliver(t, l, "erin", tok)
	select {
	case f := <-found:
		if f.Folder != "Archive" || f.Role != RoleOther {
			t.Errorf("found in %s (%s), want Archive (other)", f.Folder, f.Role)
		}
	case <-ctx.Done():
		t.Fatal("probe in Archive not found")
	}
	acct.Extra = []string{"Archiv"}
	if _, err := Watch(ctx, acct, discard); err == nil || !strings.Contains(err.Error(), `folder "Archiv" is not on the server`) ||
		!strings.Contains(err.Error(), `"Archive"`) {
		t.Errorf("Watch with a wrong folder = %v, want an error naming it and the folders there", err)
	}
}

// TestInspectCountsExtraFolders: the seeds command counts the probes left in
// a seed's further folders, which housekeeping purges too.
func TestInspectCountsExtraFolders(t *testing.T) {
	l := newLabWith(t, lab.Options{Seeds: []lab.SeedSpec{{Name: "erin", Rule: lab.RuleArchive}}})
	acct := account(t, l, "erin", l.IMAP, SecurityTLS)
	acct.Extra = []string{"Archive"}
	deliver(t, l, "erin", token(t))
	h, err := Inspect(context.Background(), acct, time.Now().Add(time.Hour), discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range h.Folders {
		if f.Name == "Archive" && (!f.Watched || f.Probes != 1) {
			t.Errorf("Archive = %+v, want it watched with its probe counted", f)
		}
	}
}

// TestProbeExpectedAfterItsMessageWasPassed: after a restart, probes are
// expected one by one while their messages are already in the folder. A scan
// for the first passes the second; the second must still be found (it was
// lost for good before the folder kept unclaimed probe messages).
func TestProbeExpectedAfterItsMessageWasPassed(t *testing.T) {
	l := newLab(t)
	acct := account(t, l, "alice", l.IMAP, SecurityTLS)
	acct.PollInterval = 200 * time.Millisecond
	first, second := token(t), token(t)
	deliver(t, l, "alice", first)
	deliver(t, l, "alice", second)
	ctx, w, found := watch(t, acct)
	w.Expect(found, first)
	select {
	case f := <-found:
		if f.Token != first {
			t.Fatalf("found %s, want the first probe", f.Token)
		}
	case <-ctx.Done():
		t.Fatal("first probe not found")
	}
	w.Expect(found, second)
	select {
	case f := <-found:
		if f.Token != second || f.Folder != "INBOX" {
			t.Errorf("found %s in %s, want the second probe in INBOX", f.Token, f.Folder)
		}
	case <-ctx.Done():
		t.Fatal("the second probe, expected after a scan passed its message, was never found")
	}
}
