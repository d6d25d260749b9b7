// Package bearer holds the SASL mechanisms that log in with an OAuth2 bearer
// token — OAUTHBEARER (RFC 7628) and XOAUTH2, Google's and Microsoft's older
// form of it — the choice between them from what a server offers, and the
// rule for a token the server refuses: get a fresh one and try once more. It
// does not obtain tokens (see package oauth) and speaks no IMAP or SMTP of its
// own: seedbox and submit hand it their AUTHENTICATE and AUTH.
package bearer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// The mechanisms, as servers name them.
const (
	OAuthBearer = sasl.OAuthBearer // RFC 7628
	XOAuth2     = "XOAUTH2"
)

// Choose returns the mechanism to use with a server: OAUTHBEARER when it is
// offered, the standard one, else XOAUTH2, else "".
func Choose(offered func(mech string) bool) string {
	for _, m := range []string{OAuthBearer, XOAuth2} {
		if offered(m) {
			return m
		}
	}
	return ""
}

// Failure is what a server says when it refuses a token: the JSON of RFC 7628
// section 3.2.2, which XOAUTH2 servers send too.
type Failure struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes,omitempty"`
	Scope   string `json:"scope,omitempty"`
}

// Error reads "status invalid_token, scope https://mail.google.com/".
func (f *Failure) Error() string {
	s := "status " + f.Status
	if f.Scope != "" {
		s += ", scope " + f.Scope
	}
	return s
}

// Client is the SASL client of one mechanism and token. It keeps the failure
// the server sent, if any, and answers it as the mechanism says, so that the
// exchange ends with the server's refusal and the session stays usable for
// another try. Its String never shows the token.
type Client struct {
	mech, user, token, host string
	port                    int
	failure                 *Failure
}

// NewClient returns a client of mech (OAuthBearer or XOAuth2) that logs user
// in with token. host and port are the server's, which OAUTHBEARER sends
// along (RFC 7628 section 3.1); they may be empty.
func NewClient(mech, user, token, host string, port int) *Client {
	return &Client{mech: mech, user: user, token: token, host: host, port: port}
}

// Start implements sasl.Client.
func (c *Client) Start() (mech string, ir []byte, err error) {
	switch c.mech {
	case OAuthBearer:
		// go-sasl writes the GS2 header and key/value pairs of RFC 7628 section 3.1.
		return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: c.user, Token: c.token, Host: c.host, Port: c.port}).Start()
	case XOAuth2:
		return XOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
	}
	return "", nil, fmt.Errorf("bearer: unknown mechanism %q", c.mech)
}

// Next implements sasl.Client. A challenge after the initial response is the
// server's error (RFC 7628 section 3.2.2): it is kept, and answered with the
// dummy response that ends the exchange — %x01 for OAUTHBEARER (section
// 3.2.3), an empty one for XOAUTH2 — rather than by aborting, which go-imap
// would leave half done. go-sasl's own client aborts, hence this one.
func (c *Client) Next(challenge []byte) ([]byte, error) {
	f := &Failure{}
	if err := json.Unmarshal(challenge, f); err != nil || f.Status == "" {
		f = &Failure{Status: "unreadable error challenge"}
	}
	c.failure = f
	if c.mech == OAuthBearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

// Failure returns the error the server sent, or nil.
func (c *Client) Failure() *Failure { return c.failure }

// String names the mechanism and user only.
func (c *Client) String() string { return c.mech + " as " + c.user }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// TokenSource hands out access tokens; *oauth.Source is one.
type TokenSource interface {
	// Token returns a token that is valid for a while.
	Token(ctx context.Context) (string, error)
	// Invalidate says a server refused rejected and returns one to try instead.
	Invalidate(ctx context.Context, rejected string) (string, error)
}

// TokenError is a failure of the token source. Its message is the source's
// own, which names the account and how to log it in again.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return e.Err.Error() }

// Unwrap returns the source's error.
func (e *TokenError) Unwrap() error { return e.Err }

// LoginName returns the argument of `mailflow auth login` that mends ts's
// account, when ts knows it (as *oauth.Source does), else fallback.
func LoginName(ts TokenSource, fallback string) string {
	if n, ok := ts.(interface{ LoginName() string }); ok && n.LoginName() != "" {
		return n.LoginName()
	}
	return fallback
}

// RefusedError is a login whose token the server refused, and refused again
// after a fresh one. Failure is what the server said in its error challenge,
// Err its final reply.
type RefusedError struct {
	Mech    string
	Failure *Failure
	Err     error
}

// Error reads "the server refused the OAuth2 token (OAUTHBEARER; status
// invalid_token; server said: ...), also after a refresh".
func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the server refused the OAuth2 token (%s", e.Mech)
	if e.Failure != nil {
		b.WriteString("; " + e.Failure.Error())
	}
	if e.Err != nil {
		b.WriteString("; server said: " + e.Err.Error())
	}
	b.WriteString("), also after a refresh")
	return b.String()
}

// Unwrap returns the server's reply.
func (e *RefusedError) Unwrap() error { return e.Err }

// Authenticate logs user in with mech, using a token from ts, through auth,
// which runs the protocol's AUTHENTICATE or AUTH with the client it is given.
// refused tells a refusal by the server (IMAP NO, SMTP 535) from other
// failures. A refused token is invalidated and the login tried once more with
// the one Invalidate returns; a second refusal is a *RefusedError. Errors of
// ts are a *TokenError: they say how to log in again.
func Authenticate(ctx context.Context, ts TokenSource, mech, user, host string, port int,
	auth func(sasl.Client) error, refused func(error) bool) error {
	tok, err := ts.Token(ctx)
	if err != nil {
		return &TokenError{Err: err}
	}
	for try := 0; ; try++ {
		c := NewClient(mech, user, tok, host, port)
		err := auth(c)
		if err == nil {
			return nil
		}
		err = scrub(err, tok)
		if c.Failure() == nil && !refused(err) {
			return err // the network, TLS, the protocol: a fresh token mends none of them
		}
		if try == 1 {
			return &RefusedError{Mech: mech, Failure: c.Failure(), Err: err}
		}
		if tok, err = ts.Invalidate(ctx, tok); err != nil {
			return &TokenError{Err: err}
		}
	}
}

// scrub makes sure an error from the wire does not carry the token, should a
// server echo what it was sent.
func scrub(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "******"))
}

// XOAuth2Server is the server side of XOAUTH2, for the lab: validate checks a
// user's token; a refusal is sent as the JSON error challenge real servers
// send, and the exchange fails on the client's answer to it.
func XOAuth2Server(validate func(user, token string) *Failure) sasl.Server {
	return &xoauth2Server{validate: validate}
}

type xoauth2Server struct {
	validate func(user, token string) *Failure
	failure  *Failure
	done     bool
}

// ErrRefused is the end of a server-side exchange whose token was refused.
var ErrRefused = errors.New("bearer token refused")

// Next implements sasl.Server.
func (s *xoauth2Server) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case s.failure != nil || s.done:
		return nil, true, ErrRefused
	case response == nil:
		return []byte{}, false, nil // ask for the initial response
	}
	s.done = true
	user, token, ok := parseXOAuth2(response)
	if !ok {
		s.failure = &Failure{Status: "invalid_request", Schemes: "bearer"}
	} else {
		s.failure = s.validate(user, token)
	}
	if s.failure == nil {
		return nil, true, nil
	}
	b, _ := json.Marshal(s.failure)
	return b, false, nil
}

// parseXOAuth2 reads "user=U\x01auth=Bearer T\x01\x01".
func parseXOAuth2(b []byte) (user, token string, ok bool) {
	for _, kv := range bytes.Split(b, []byte{0x01}) {
		k, v, found := bytes.Cut(kv, []byte{'='})
		if !found {
			continue
		}
		switch string(k) {
		case "user":
			user = string(v)
		case "auth":
			scheme, t, found := strings.Cut(string(v), " ")
			if found && strings.EqualFold(scheme, "bearer") {
				token = t
			}
		}
	}
	return user, token, user != "" && token != ""
}
