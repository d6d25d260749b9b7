package lab

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailflow/mailflow/internal/oauth/bearer"
)

// OAuth makes the lab accept OAuth2 bearer tokens, as Gmail and Microsoft 365
// do: OAUTHBEARER (RFC 7628) and XOAUTH2 on SMTP AUTH of the submission
// listeners and on IMAP AUTHENTICATE, for the submission account and every
// seed. A refused token gets the answer real servers give: the JSON error
// challenge, then 535 5.7.8 or NO [AUTHENTICATIONFAILED].
type OAuth struct {
	// Validate says whether token is a live access token of username (a
	// seed's address, or the submission username); a test wires it to its
	// authorization server (oauthtest.Server.Validate). nil refuses every
	// token.
	Validate func(username, token string) error
	// Mechanisms offered, in order; nil offers OAUTHBEARER and XOAUTH2.
	Mechanisms []string
	// Scope is named in the error challenge (default "https://mail.mailflow.test/").
	Scope string
}

// AuthAttempt is one AUTH or AUTHENTICATE the lab answered. It holds no
// credential.
type AuthAttempt struct {
	Proto string // "smtp" or "imap"
	Mech  string
	User  string
	OK    bool
}

// authLog keeps every authentication attempt, for tests to read.
type authLog struct {
	mu       sync.Mutex
	attempts []AuthAttempt
}

func (a *authLog) add(at AuthAttempt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts = append(a.attempts, at)
}

// AuthAttempts returns every authentication attempt so far, oldest first.
func (l *Lab) AuthAttempts() []AuthAttempt {
	l.auths.mu.Lock()
	defer l.auths.mu.Unlock()
	return slices.Clone(l.auths.attempts)
}

// oauthMechanisms returns the bearer mechanisms the lab offers.
func (l *Lab) oauthMechanisms() []string {
	switch {
	case l.opts.OAuth == nil:
		return nil
	case l.opts.OAuth.Mechanisms != nil:
		return l.opts.OAuth.Mechanisms
	}
	return []string{bearer.OAuthBearer, bearer.XOAuth2}
}

// offersOAuth reports whether mech is a bearer mechanism the lab offers.
func (l *Lab) offersOAuth(mech string) bool {
	return slices.Contains(l.oauthMechanisms(), strings.ToUpper(mech))
}

// checkToken validates a bearer token of user, returning the failure the
// error challenge carries.
func (l *Lab) checkToken(proto, mech, user, token string) *bearer.Failure {
	var err error
	if v := l.opts.OAuth.Validate; v != nil {
		err = v(user, token)
	} else {
		err = errors.New("the lab validates no token")
	}
	l.auths.add(AuthAttempt{Proto: proto, Mech: mech, User: user, OK: err == nil})
	if err != nil {
		l.log.Info("lab refused bearer token", "proto", proto, "mech", mech, "username", user, "err", err)
		scope := l.opts.OAuth.Scope
		if scope == "" {
			scope = "https://mail.mailflow.test/"
		}
		return &bearer.Failure{Status: "invalid_token", Schemes: "bearer", Scope: scope}
	}
	return nil
}

// bearerServer is the server side of mech for proto; ok runs once the token
// is accepted. Whatever goes wrong ends in fail, the protocol's refusal.
func (l *Lab) bearerServer(proto, mech string, check func(user, token string) *bearer.Failure, fail error) sasl.Server {
	var inner sasl.Server
	switch mech {
	case bearer.OAuthBearer:
		inner = sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if f := check(o.Username, o.Token); f != nil {
				return &sasl.OAuthBearerError{Status: f.Status, Schemes: f.Schemes, Scope: f.Scope}
			}
			return nil
		})
	default:
		inner = bearer.XOAuth2Server(check)
	}
	return &refusingServer{inner: inner, fail: fail}
}

// refusingServer ends a bearer exchange as real servers do. After the error
// challenge (RFC 7628 section 3.2.2) the client's answer, whatever it is, ends
// the exchange with the protocol's refusal; go-sasl's OAUTHBEARER server would
// fail on an empty answer with an index out of range.
type refusingServer struct {
	inner      sasl.Server
	challenged bool
	fail       error
}

func (r *refusingServer) Next(response []byte) ([]byte, bool, error) {
	if r.challenged {
		return nil, true, r.fail
	}
	challenge, done, err := r.inner.Next(response)
	if err != nil {
		return nil, true, r.fail
	}
	if !done && len(challenge) > 0 {
		r.challenged = true // an error challenge; an empty one asks for the initial response
	}
	return challenge, done, nil
}

// smtpBearer is the SMTP side: the submission account's token.
func (s *session) smtpBearer(mech string) sasl.Server {
	check := func(user, token string) *bearer.Failure {
		if !strings.EqualFold(user, s.l.Username) {
			s.l.auths.add(AuthAttempt{Proto: "smtp", Mech: mech, User: user})
			return &bearer.Failure{Status: "invalid_token", Schemes: "bearer"}
		}
		if f := s.l.checkToken("smtp", mech, user, token); f != nil {
			return f
		}
		s.authed = true
		return nil
	}
	return s.l.bearerServer("smtp", mech, check, smtp.ErrAuthFailed)
}

// errIMAPAuthFailed is Gmail's answer to a refused token.
var errIMAPAuthFailed = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Invalid credentials (Failure)"}

// AuthenticateMechanisms implements imapserver.SessionSASL: PLAIN, and the
// bearer mechanisms when the lab takes OAuth2.
func (s *imapSession) AuthenticateMechanisms() []string {
	return append([]string{sasl.Plain}, s.lab.oauthMechanisms()...)
}

// Authenticate implements imapserver.SessionSASL.
func (s *imapSession) Authenticate(mech string) (sasl.Server, error) {
	mech = strings.ToUpper(mech)
	switch {
	case mech == sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "SASL identity not supported"}
			}
			return s.Login(user, pass)
		}), nil
	case s.lab.offersOAuth(mech):
		check := func(user, token string) *bearer.Failure {
			a, ok := s.lab.byUser[strings.ToLower(user)]
			if !ok {
				s.lab.auths.add(AuthAttempt{Proto: "imap", Mech: mech, User: user})
				return &bearer.Failure{Status: "invalid_token", Schemes: "bearer"}
			}
			if f := s.lab.checkToken("imap", mech, a.seed.Username, token); f != nil {
				return f
			}
			s.acct, s.UserSession = a, imapmemserver.NewUserSession(a.user)
			return nil
		}
		return s.lab.bearerServer("imap", mech, check, errIMAPAuthFailed), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

// Compile-time check: the lab's IMAP session chooses its own mechanisms.
var _ imapserver.SessionSASL = (*imapSession)(nil)

// idCounter counts IMAP ID commands (RFC 2971) in the traffic imapserver's
// DebugWriter copies to it: both directions of every connection. It keeps
// nothing of what it reads, credentials included.
type idCounter struct {
	mu    sync.Mutex
	n     int
	carry []byte // the start of a line not yet ended
}

func (c *idCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := append(c.carry, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		// A command is "TAG ID (...)" or "TAG ID NIL".
		if f := bytes.Fields(data[:i]); len(f) >= 3 && bytes.EqualFold(f[1], []byte("ID")) {
			c.n++
		}
		data = data[i+1:]
	}
	c.carry = append(c.carry[:0], data[:min(len(data), 256)]...)
	return len(p), nil
}

// IMAPIDs returns how many IMAP ID commands clients sent, with
// Options.CountIMAPID.
func (l *Lab) IMAPIDs() int {
	l.ids.mu.Lock()
	defer l.ids.mu.Unlock()
	return l.ids.n
}
