package lab

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailflow/mailflow/internal/message"
)

func newLab(t *testing.T) *Lab {
	t.Helper()
	l, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (l *Lab) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// probe builds a message from mailflow.test, signed with the lab's key when sign is set.
func probe(t *testing.T, l *Lab, to, body string, sign bool) []byte {
	t.Helper()
	tok, _ := message.NewToken()
	msg, err := message.Build(message.Probe{Token: tok, From: "monitor@" + l.SenderDomain, To: to, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if !sign {
		return msg
	}
	key, err := message.ParseDKIMKey(l.DKIMKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	msg, err = message.Sign(msg, message.DKIMKey{Domain: l.SenderDomain, Selector: l.DKIMSelector, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// send submits msg through addr; auth and starttls as the listener wants.
func send(l *Lab, addr string, implicitTLS, starttls bool, password, to string, msg []byte) error {
	var c *smtp.Client
	var err error
	switch {
	case implicitTLS:
		c, err = smtp.DialTLS(addr, l.tlsConfig())
	case starttls:
		c, err = smtp.DialStartTLS(addr, l.tlsConfig())
	default:
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if password != "" {
		if err := c.Auth(sasl.NewPlainClient("", l.Username, password)); err != nil {
			return err
		}
	}
	if err := c.Mail("monitor@"+l.SenderDomain, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	w.Write(msg)
	return w.Close()
}

func code(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := se.EnhancedCode
		return fmt.Sprintf("%d %d.%d.%d", se.Code, e[0], e[1], e[2])
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func TestDelivery(t *testing.T) {
	l := newLab(t)
	alice, _ := l.Seed("alice")
	for _, tc := range []struct {
		name          string
		addr          func() string
		tls, starttls bool
		password      string
		seed, body    string
		sign          bool
		want          string // reply code
		folder        string // where it must land, "" when nowhere
	}{
		{"submission signed to alice", func() string { return l.Submission }, false, true, l.Password, "alice", "", true, "ok", "INBOX"},
		{"smtps to bob's junk rule", func() string { return l.SMTPS }, true, false, l.Password, "bob", "", true, "ok", "Junk"},
		{"relay gtube to alice", func() string { return l.Relay }, false, true, "", "alice", gtube, true, "ok", "Junk"},
		{"carol rejects", func() string { return l.Submission }, false, true, l.Password, "carol", "", true, "550 5.1.1", ""},
		{"dave drops", func() string { return l.SMTPS }, true, false, l.Password, "dave", "", true, "ok", ""},
		{"wrong password", func() string { return l.Submission }, false, true, "wrong", "alice", "", true, "535 5.7.8", ""},
		{"mail before starttls", func() string { return l.Submission }, false, false, "", "alice", "", true, "530 5.7.0", ""},
		{"relay elsewhere", func() string { return l.Relay }, false, false, "", "", "", true, "550 5.7.1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := "someone@elsewhere.example"
			if tc.seed != "" {
				s, _ := l.Seed(tc.seed)
				to = s.Address
			}
			before := map[string]int{}
			for _, f := range []string{"INBOX", "Junk"} {
				before[f], _ = l.Count(alice.Name, f)
			}
			err := send(l, tc.addr(), tc.tls, tc.starttls, tc.password, to, probe(t, l, to, tc.body, tc.sign))
			if got := code(err); got != tc.want {
				t.Fatalf("send = %s, want %s", got, tc.want)
			}
			for _, f := range []string{"INBOX", "Junk"} {
				if tc.seed == "" {
					continue
				}
				n, err := l.Count(tc.seed, f)
				if err != nil {
					t.Fatal(err)
				}
				if tc.seed == "alice" {
					n -= before[f]
				}
				want := 0
				if f == tc.folder {
					want = 1
				}
				if n != want {
					t.Errorf("%s/%s holds %d new messages, want %d", tc.seed, f, n, want)
				}
			}
		})
	}
}

func TestChecks(t *testing.T) {
	l := newLab(t)
	loop := []byte{127, 0, 0, 1}
	signed := probe(t, l, "alice@"+l.SeedDomain, "", true)
	v := l.check("monitor@"+l.SenderDomain, loop, signed)
	if v.spf != "pass" || v.dkim != "pass" || v.dmarc != "pass" || v.spam {
		t.Errorf("signed from loopback: %+v, want spf, dkim, dmarc pass and not spam", v)
	}
	unsigned := probe(t, l, "alice@"+l.SeedDomain, "", false)
	v = l.check("monitor@"+l.SenderDomain, []byte{192, 0, 2, 1}, unsigned)
	if v.spf != "fail" || v.dkim != "none" || v.dmarc != "fail" || !v.spam {
		t.Errorf("unsigned from outside: %+v, want spf fail, dkim none, dmarc fail, spam", v)
	}
	tampered := bytes.Replace(signed, []byte("delivery check"), []byte("Delivery check"), 1)
	if v = l.check("monitor@"+l.SenderDomain, loop, tampered); v.dkim != "fail" {
		t.Errorf("tampered body: dkim %s, want fail", v.dkim)
	}
	// The published key verifies with go-msgauth's own resolver hook.
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{LookupTXT: l.LookupTXT})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Errorf("verify with LookupTXT: %v %+v", err, vs)
	}
	if _, err := l.LookupTXT("nosuch.example"); err == nil {
		t.Error("LookupTXT(nosuch.example) succeeded, want not found")
	}
}
