package lab

import (
	"errors"
	"fmt"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// dial connects to a lab listener: "relay", "relay+starttls", "plain-relay",
// "submission" (with STARTTLS), "submission-plain" (without) or "smtps".
func dial(t *testing.T, l *Lab, listener string) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	switch listener {
	case "relay":
		c, err = smtp.Dial(l.Relay)
	case "relay+starttls":
		c, err = smtp.DialStartTLS(l.Relay, clientTLS(l))
	case "plain-relay":
		c, err = smtp.Dial(l.PlainRelay)
	case "submission":
		c, err = smtp.DialStartTLS(l.Submission, clientTLS(l))
	case "submission-plain":
		c, err = smtp.Dial(l.Submission)
	case "smtps":
		c, err = smtp.DialTLS(l.SMTPS, clientTLS(l))
	default:
		t.Fatalf("no listener %q", listener)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", listener, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send runs one transaction and returns the text of the final DATA reply.
func send(c *smtp.Client, mailFrom, rcpt string, msg []byte) (string, error) {
	if err := c.Mail(mailFrom, nil); err != nil {
		return "", err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return "", err
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

// code is "ok", or an SMTP error as "550 5.1.1".
func code(err error) string {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		e := se.EnhancedCode
		return fmt.Sprintf("%d %d.%d.%d", se.Code, e[0], e[1], e[2])
	}
	return err.Error()
}

func TestSMTPRules(t *testing.T) {
	l := newLab(t)
	monitor := "monitor@" + l.SenderDomain
	alice, _ := l.Seed("alice")
	for _, tc := range []struct {
		name     string
		listener string
		do       func(c *smtp.Client) error
		want     string
	}{
		{"wrong password, PLAIN", "submission", func(c *smtp.Client) error {
			return c.Auth(sasl.NewPlainClient("", l.Username, "wrong"))
		}, "535 5.7.8"},
		{"wrong password, LOGIN", "smtps", func(c *smtp.Client) error {
			return c.Auth(sasl.NewLoginClient(l.Username, "wrong"))
		}, "535 5.7.8"},
		{"wrong username", "smtps", func(c *smtp.Client) error {
			return c.Auth(sasl.NewPlainClient("", "nobody@mailflow.test", l.Password))
		}, "535 5.7.8"},
		{"LOGIN then MAIL", "submission", func(c *smtp.Client) error {
			if err := c.Auth(sasl.NewLoginClient(l.Username, l.Password)); err != nil {
				return err
			}
			return c.Mail(monitor, nil)
		}, "ok"},
		{"MAIL before STARTTLS", "submission-plain", func(c *smtp.Client) error { return c.Mail(monitor, nil) }, "530 5.7.0"},
		{"AUTH before STARTTLS", "submission-plain", func(c *smtp.Client) error {
			return c.Auth(sasl.NewPlainClient("", l.Username, l.Password))
		}, "530 5.7.0"},
		{"MAIL without AUTH after STARTTLS", "submission", func(c *smtp.Client) error { return c.Mail(monitor, nil) }, "530 5.7.0"},
		{"MAIL without AUTH on SMTPS", "smtps", func(c *smtp.Client) error { return c.Mail(monitor, nil) }, "530 5.7.0"},
		{"AUTH on the relay", "relay+starttls", func(c *smtp.Client) error {
			return c.Auth(sasl.NewPlainClient("", l.Username, l.Password))
		}, "503 5.5.1"},
		{"relay needs no AUTH", "relay", func(c *smtp.Client) error {
			if err := c.Mail(monitor, nil); err != nil {
				return err
			}
			return c.Rcpt(alice.Address, nil)
		}, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(tc.do(dial(t, l, tc.listener))); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestEHLO(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		listener       string
		starttls, auth bool
	}{
		{"relay", true, false},
		{"relay+starttls", false, false},
		{"plain-relay", false, false},
		{"submission-plain", true, false},
		{"submission", false, true},
		{"smtps", false, true},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			c := dial(t, l, tc.listener)
			if err := c.Hello("client.mailflow.test"); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.Extension("STARTTLS"); got != tc.starttls {
				t.Errorf("STARTTLS offered: got %v, want %v", got, tc.starttls)
			}
			got, mechs := c.Extension("AUTH")
			if got != tc.auth || (tc.auth && mechs != "PLAIN LOGIN") {
				t.Errorf("AUTH offered: got %v %q, want %v", got, mechs, tc.auth)
			}
		})
	}
}

func TestLoginServer(t *testing.T) {
	check := func(user, pass string) error {
		if user != "u" || pass != "p" {
			return errAuthDisabled
		}
		return nil
	}
	for _, tc := range []struct {
		name  string
		steps [][]byte
	}{
		{"without initial response", [][]byte{nil, []byte("u"), []byte("p")}},
		{"with initial response", [][]byte{[]byte("u"), []byte("p")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &loginServer{check: check}
			for i, resp := range tc.steps {
				_, done, err := s.Next(resp)
				if last := i == len(tc.steps)-1; done != last || err != nil {
					t.Fatalf("step %d: got done=%v err=%v, want done=%v err=nil", i, done, err, last)
				}
			}
		})
	}
}
