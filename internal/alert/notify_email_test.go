package alert

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/lab"
)

// newLab starts the lab and returns it with its config (paths relay,
// submission and smtps, all signing with the lab's DKIM key).
func newLab(t *testing.T) (*lab.Lab, *config.Config) {
	t.Helper()
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cfg, err := l.Config(filepath.Join(t.TempDir(), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	return l, cfg
}

// mailbox returns the messages in a lab seed's folder, read over IMAP.
func mailbox(t *testing.T, l *lab.Lab, seed, folder string) []*mail.Message {
	t.Helper()
	s, _ := l.Seed(seed)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(l.CAPEM)
	c, err := imapclient.DialTLS(l.IMAP, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(s.Username, s.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.SeqSetNum(1, sel.NumMessages), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*mail.Message
	for _, b := range bufs {
		m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(b.FindBodySection(section))))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// byID finds the message carrying an event id in its Message-ID: the same
// for every attempt at one notification, and only for it.
func byID(msgs []*mail.Message, id string) *mail.Message {
	local, _, _ := strings.Cut(messageID(id, "x@example.net"), "@")
	for _, m := range msgs {
		if strings.Contains(m.Header.Get("Message-Id"), "<"+local+"@") {
			return m
		}
	}
	return nil
}

func emailNotifier(t *testing.T, cfg *config.Config, path string, to ...string) Notifier {
	t.Helper()
	return newTestNotifier(t, &config.Notifier{Name: "mail", Type: config.NotifyEmail, Path: path, To: to}, cfg)
}

// TestEmail sends an alert over each of the lab's paths (STARTTLS with AUTH,
// implicit TLS with AUTH, a relay without) to two seeds and reads it back.
func TestEmail(t *testing.T) {
	l, cfg := newLab(t)
	alice, _ := l.Seed("alice")
	bob, _ := l.Seed("bob")
	for _, path := range []string{"submission", "smtps", "relay"} {
		t.Run(path, func(t *testing.T) {
			e := firing()
			e.ID = "default/slow/path=submission@1746093600/firing/0/" + path // as the engine makes them
			n := emailNotifier(t, cfg, path, alice.Address, bob.Address)
			if err := n.Notify(context.Background(), e); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			m := byID(mailbox(t, l, "alice", "INBOX"), e.ID)
			if m == nil {
				t.Fatalf("alice's INBOX has no message with id %s", e.ID)
			}
			dec := new(mime.WordDecoder)
			subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
			for k, want := range map[string]string{
				"Subject":                 "[mailflow FIRING] default/slow path=submission: p95 round trip 3m12s over 2m0s",
				"From":                    `"mailflow monitor" <monitor@mailflow.test>`,
				"Auto-Submitted":          "auto-generated",
				"X-Mailflow-Alert":        "default/slow/path=submission",
				"X-Mailflow-Alert-Status": "firing",
			} {
				got := m.Header.Get(k)
				if k == "Subject" {
					got = subject
				}
				if got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if to, _ := m.Header.AddressList("To"); len(to) != 2 || to[0].Address != alice.Address || to[1].Address != bob.Address {
				t.Errorf("To: %v, want %s and %s", to, alice.Address, bob.Address)
			}
			if ar := m.Header.Get("Authentication-Results"); !strings.Contains(ar, "dkim=pass") {
				t.Errorf("Authentication-Results: %q, want dkim=pass (signed with the path's key)", ar)
			}
			body, _ := io.ReadAll(m.Body)
			for _, want := range []string{"[FIRING critical] p95 round trip 3m12s over 2m0s",
				"group      path=submission", "rule       slow (latency)", "value      192.5 (threshold 120)",
				"when       firing since 2025-05-01 10:00:00 UTC", "probes     aaaaaaaabbbbbbbbccccccccdddddddd"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			if byID(mailbox(t, l, "bob", "Junk"), e.ID) == nil {
				t.Errorf("bob's Junk has no copy (bob's rule files all mail there)")
			}
		})
	}
}

func TestEmailFails(t *testing.T) {
	l, cfg := newLab(t)
	alice, _ := l.Seed("alice")
	carol, _ := l.Seed("carol") // the lab rejects mail for carol
	wrong := *cfg.Paths["submission"]
	wrong.Name, wrong.Password = "wrongpw", config.NewSecret("not-the-SECRET-pw", "env:PW")
	cfg.Paths["wrongpw"] = &wrong

	// A server that accepts connections and never says a word.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	silent := *cfg.Paths["submission"]
	silent.Name, silent.Port = "silent", mute.Addr().(*net.TCPAddr).Port
	cfg.Paths["silent"] = &silent

	for _, tc := range []struct {
		name, path, to string
		timeout        time.Duration
		want           []string
	}{
		{"rejected recipient", "submission", carol.Address, 0, []string{"notifier mail: path submission: rejected at rcpt: 550 5.1.1"}},
		{"wrong password", "wrongpw", alice.Address, 0, []string{"notifier mail: path wrongpw: error at auth: 535"}},
		{"silent server", "silent", alice.Address, 500 * time.Millisecond, []string{"notifier mail: path silent: error at banner: ", "i/o timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNotifier(t, &config.Notifier{Name: "mail", Type: config.NotifyEmail, Path: tc.path,
				To: []string{alice.Address, tc.to}, Timeout: tc.timeout}, cfg)
			start := time.Now()
			err := n.Notify(context.Background(), firing())
			if err == nil {
				t.Fatal("Notify = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Notify = %q, want it to contain %q", err, w)
				}
			}
			if tc.timeout > 0 && time.Since(start) > tc.timeout+5*time.Second {
				t.Errorf("Notify took %s, over its %s timeout", time.Since(start), tc.timeout)
			}
			for _, secret := range []string{l.Password, "not-the-SECRET-pw"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Notify = %v, reveals a password", err)
				}
			}
		})
	}
	if n, _ := l.Count("alice", "INBOX"); n != 0 {
		t.Errorf("alice's INBOX holds %d messages, want none: a failed transaction delivers to nobody", n)
	}
}

func TestEmailCompose(t *testing.T) {
	path := &config.Path{Name: "submission", MailFrom: "monitor@example.com"}
	m := &email{name: "mail", path: path, to: []string{"oncall@example.com"}, now: time.Now}
	for _, tc := range []struct {
		name, summary, encoding string
	}{
		{"ascii", "3 probes in spam", "7bit"},
		{"utf-8", "Zustellung verzögert: 3 Proben im Spam", "quoted-printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := firing()
			e.Summary = tc.summary
			raw, err := m.compose(e)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if got := msg.Header.Get("Content-Transfer-Encoding"); got != tc.encoding {
				t.Errorf("Content-Transfer-Encoding: %q, want %q", got, tc.encoding)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if want := "[mailflow FIRING] default/slow path=submission: " + tc.summary; err != nil || subject != want {
				t.Errorf("Subject: %q (%v), want %q", subject, err, want)
			}
			if msg.Header.Get("DKIM-Signature") != "" {
				t.Error("a path without a DKIM key signed the message")
			}
			var body io.Reader = msg.Body
			if tc.encoding == "quoted-printable" {
				body = quotedprintable.NewReader(body)
			}
			b, _ := io.ReadAll(body)
			if !strings.Contains(string(b), "[FIRING critical] "+tc.summary+"\r\n") {
				t.Errorf("body lacks the headline:\n%s", b)
			}
		})
	}
}
