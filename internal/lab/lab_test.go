package lab

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
)

func newLab(t *testing.T) *Lab {
	t.Helper()
	l, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return l
}

func clientTLS(l *Lab) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func newToken(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// compose builds a probe-like message with CRLF line ends.
func compose(from, to, token, body string) []byte {
	return []byte("From: mailflow monitor <" + from + ">\r\n" +
		"To: <" + to + ">\r\n" +
		"Subject: mailflow delivery check " + token + "\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + token + "@mailflow.test>\r\n" +
		"X-Mailflow-Probe: " + token + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"This is a delivery check.\r\n" + body + "\r\n")
}

// sign signs msg with the lab's DKIM key for SenderDomain.
func sign(t *testing.T, l *Lab, msg []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(l.DKIMKeyPEM)
	if block == nil {
		t.Fatal("DKIMKeyPEM holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	opts := &dkim.SignOptions{Domain: l.SenderDomain, Selector: l.DKIMSelector, Signer: key.(crypto.Signer)}
	if err := dkim.Sign(&b, bytes.NewReader(msg), opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestStartOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seeds   []SeedSpec
		wantErr bool
	}{
		{"default rule", []SeedSpec{{Name: "erin"}}, false},
		{"repeated name", []SeedSpec{{"erin", RuleDeliver}, {"Erin", RuleJunk}}, true},
		{"address as name", []SeedSpec{{"erin@example.com", RuleDeliver}}, true},
		{"unknown rule", []SeedSpec{{"erin", "bounce"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Start(Options{Seeds: tc.seeds})
			if err == nil {
				defer l.Close()
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("Start: got error %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				if s, ok := l.Seed("erin"); !ok || s.Rule != RuleDeliver || s.Address != "erin@seeds.mailflow.test" {
					t.Errorf("Seed(erin) = %+v, %v, want a deliver seed at erin@seeds.mailflow.test", s, ok)
				}
			}
		})
	}
}

// TestCloseEndsEverything leaves a connection open on every listener, closes
// the lab and checks that no goroutine of the servers is left.
func TestCloseEndsEverything(t *testing.T) {
	l, err := Start(Options{NoIDLE: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{l.Relay, l.PlainRelay, l.Submission} {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	s, err := smtp.DialTLS(l.SMTPS, clientTLS(l))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := imapLogin(t, l, "alice", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if _, err := os.Stat(l.CAFile); !os.IsNotExist(err) {
		t.Errorf("CA file after Close: got %v, want it removed", err)
	}
	// Close has waited for every server goroutine to let go of its
	// connection; what remains of each is its return, so allow a moment.
	left := serverGoroutines()
	for deadline := time.Now().Add(2 * time.Second); left != "" && time.Now().Before(deadline); left = serverGoroutines() {
		runtime.Gosched()
	}
	if left != "" {
		t.Errorf("goroutines after Close:\n%s\nwant none of the lab's servers", left)
	}
}

// serverGoroutines returns the stacks of goroutines still running lab, go-smtp
// or imapserver code.
func serverGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestCloseEndsEverything") {
			continue
		}
		if strings.Contains(g, "go-smtp.(*Server)") || strings.Contains(g, "imapserver.(*") || strings.Contains(g, "internal/lab.(*") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}
