package lab

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/mailflow/mailflow/internal/oauth/bearer"
)

// tokenLab is a lab that takes bearer tokens: a user's good token is
// "good-" followed by the user.
func tokenLab(t *testing.T, mechs []string) *Lab {
	t.Helper()
	l, err := Start(Options{OAuth: &OAuth{Mechanisms: mechs, Scope: "https://mail.test/",
		Validate: func(user, token string) error {
			if token != "good-"+user {
				return errors.New("unknown token")
			}
			return nil
		}}})
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

func TestSMTPBearer(t *testing.T) {
	for _, mech := range []string{bearer.OAuthBearer, bearer.XOAuth2} {
		t.Run(mech, func(t *testing.T) {
			l := tokenLab(t, nil)
			c := dial(t, l, "submission")
			if ok, offered := c.Extension("AUTH"); !ok || !strings.Contains(offered, "OAUTHBEARER XOAUTH2") {
				t.Fatalf("AUTH offers %q, want OAUTHBEARER and XOAUTH2 after PLAIN and LOGIN", offered)
			}
			// A refused token: the JSON error challenge, then 535 5.7.8.
			bad := bearer.NewClient(mech, l.Username, "stale", "localhost", 587)
			err := c.Auth(bad)
			var se *smtp.SMTPError
			if !errors.As(err, &se) || se.Code != 535 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 8}) {
				t.Fatalf("AUTH %s with a bad token = %v, want 535 5.7.8", mech, err)
			}
			if f := bad.Failure(); f == nil || f.Status != "invalid_token" || f.Scope != "https://mail.test/" || f.Schemes != "bearer" {
				t.Errorf("error challenge = %+v, want status invalid_token, schemes bearer and the scope", f)
			}
			// The session is still usable: the fresh token works.
			if err := c.Auth(bearer.NewClient(mech, l.Username, "good-"+l.Username, "localhost", 587)); err != nil {
				t.Fatalf("AUTH %s with a good token after a refusal: %v", mech, err)
			}
			seed := l.Seeds[0]
			if _, err := send(c, "monitor@"+l.SenderDomain, seed.Address, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
				t.Errorf("sending after a bearer AUTH: %v", err)
			}
			want := []AuthAttempt{{"smtp", mech, l.Username, false}, {"smtp", mech, l.Username, true}}
			if got := l.AuthAttempts(); !slices.Equal(got, want) {
				t.Errorf("AuthAttempts = %v, want %v", got, want)
			}
		})
	}
}

func TestSMTPBearerOtherUser(t *testing.T) {
	l := tokenLab(t, nil)
	c := dial(t, l, "smtps")
	// alice's own good token does not make her the submission account.
	user := l.Seeds[0].Username
	err := c.Auth(bearer.NewClient(bearer.OAuthBearer, user, "good-"+user, "", 0))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 {
		t.Fatalf("AUTH as a user other than the submission account = %v, want 535", err)
	}
}

func TestIMAPBearer(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string // the capabilities' bearer mechanisms
	}{
		{nil, "AUTH=OAUTHBEARER AUTH=XOAUTH2"},
		{[]string{bearer.XOAuth2}, "AUTH=XOAUTH2"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			l := tokenLab(t, tc.offered)
			c, err := imapclient.DialTLS(l.IMAP, &imapclient.Options{TLSConfig: clientTLS(l)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			var got []string
			for cap := range c.Caps() {
				if strings.HasPrefix(string(cap), "AUTH=") && cap != "AUTH=PLAIN" {
					got = append(got, string(cap))
				}
			}
			slices.Sort(got)
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("bearer capabilities %v, want %s", got, tc.want)
			}
			mech := bearer.Choose(func(m string) bool { return c.Caps().Has(imap.AuthCap(m)) })
			alice := l.Seeds[0]
			bad := bearer.NewClient(mech, alice.Username, "stale", "localhost", 993)
			err = c.Authenticate(bad)
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeAuthenticationFailed {
				t.Fatalf("AUTHENTICATE %s with a bad token = %v, want NO [AUTHENTICATIONFAILED]", mech, err)
			}
			if f := bad.Failure(); f == nil || f.Status != "invalid_token" {
				t.Errorf("error challenge = %+v, want status invalid_token", f)
			}
			if err := c.Authenticate(bearer.NewClient(mech, alice.Username, "good-"+alice.Username, "localhost", 993)); err != nil {
				t.Fatalf("AUTHENTICATE %s with a good token after a refusal: %v", mech, err)
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Errorf("SELECT after a bearer login: %v", err)
			}
			// Passwords still work beside tokens.
			imapLogin(t, l, "bob", nil)
		})
	}
}

func TestIMAPBearerWithoutOAuth(t *testing.T) {
	l := newLab(t)
	c, err := imapclient.DialTLS(l.IMAP, &imapclient.Options{TLSConfig: clientTLS(l)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Caps().Has(imap.AuthCap(bearer.XOAuth2)) || !c.Caps().Has(imap.AuthCap("PLAIN")) {
		t.Errorf("a lab without OAuth offers %v, want PLAIN only", c.Caps())
	}
	alice := l.Seeds[0]
	if err := c.Authenticate(bearer.NewClient(bearer.XOAuth2, alice.Username, "good-"+alice.Username, "", 0)); err == nil {
		t.Error("a lab without OAuth took a bearer token")
	}
}
