package bearer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, OAuthBearer},
		{[]string{"XOAUTH2", "PLAIN"}, XOAuth2},
		{[]string{"PLAIN", "LOGIN"}, ""},
	} {
		if got := Choose(func(m string) bool { return slices.Contains(tc.offered, m) }); got != tc.want {
			t.Errorf("Choose(%v) = %q, want %q", tc.offered, got, tc.want)
		}
	}
}

func TestInitialResponses(t *testing.T) {
	for _, tc := range []struct {
		mech, want string
	}{
		// Google's and Microsoft's XOAUTH2 format.
		{XOAuth2, "user=a@example.com\x01auth=Bearer tok123\x01\x01"},
		// RFC 7628 section 3.1: GS2 header, then host, port and auth.
		{OAuthBearer, "n,a=a@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer tok123\x01\x01"},
	} {
		c := NewClient(tc.mech, "a@example.com", "tok123", "imap.example.com", 993)
		mech, ir, err := c.Start()
		if err != nil || mech != tc.mech || string(ir) != tc.want {
			t.Errorf("%s Start() = %q, %q, %v; want %q", tc.mech, mech, ir, err, tc.want)
		}
		if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); strings.Contains(s, "tok123") {
			t.Errorf("printing the %s client shows the token: %s", tc.mech, s)
		}
	}
}

func TestErrorChallengeAnswered(t *testing.T) {
	for mech, want := range map[string]string{OAuthBearer: "\x01", XOAuth2: ""} {
		c := NewClient(mech, "u", "t", "", 0)
		resp, err := c.Next([]byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`))
		if err != nil || string(resp) != want {
			t.Errorf("%s Next(error challenge) = %q, %v; want %q: the exchange must end with the server's refusal", mech, resp, err, want)
		}
		if f := c.Failure(); f == nil || f.Status != "401" || f.Scope != "https://mail.google.com/" {
			t.Errorf("%s Failure() = %+v", mech, f)
		}
	}
}

func TestXOAuth2Server(t *testing.T) {
	var gotUser, gotToken string
	srv := XOAuth2Server(func(user, token string) *Failure {
		gotUser, gotToken = user, token
		if token != "good" {
			return &Failure{Status: "400", Schemes: "Bearer"}
		}
		return nil
	})
	if ch, done, err := srv.Next(nil); len(ch) != 0 || done || err != nil {
		t.Fatalf("Next(nil) = %q, %v, %v; want an empty challenge asking for the initial response", ch, done, err)
	}
	if _, done, err := srv.Next([]byte("user=u@x\x01auth=Bearer good\x01\x01")); !done || err != nil || gotUser != "u@x" || gotToken != "good" {
		t.Errorf("a good token: done %v, err %v, user %q token %q", done, err, gotUser, gotToken)
	}
	srv = XOAuth2Server(func(string, string) *Failure { return &Failure{Status: "400", Schemes: "Bearer"} })
	ch, done, err := srv.Next([]byte("user=u@x\x01auth=Bearer bad\x01\x01"))
	if done || err != nil || string(ch) != `{"status":"400","schemes":"Bearer"}` {
		t.Fatalf("a bad token: challenge %q, done %v, err %v; want the JSON error challenge", ch, done, err)
	}
	if _, done, err := srv.Next([]byte{}); !done || err != ErrRefused {
		t.Errorf("the answer to the error challenge: done %v, err %v; want ErrRefused", done, err)
	}
}
