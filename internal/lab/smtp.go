package lab

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// listenerKind is what a lab SMTP listener demands of its clients.
type listenerKind int

const (
	kindRelay      listenerKind = iota // plain, STARTTLS offered, no AUTH
	kindPlainRelay                     // plain, no STARTTLS, no AUTH
	kindSubmission                     // STARTTLS required before AUTH and MAIL; AUTH required
	kindSMTPS                          // implicit TLS; AUTH required
)

func (k listenerKind) String() string {
	return [...]string{"relay", "plain-relay", "submission", "smtps"}[k]
}

func (k listenerKind) needsAuth() bool { return k == kindSubmission || k == kindSMTPS }

// Replies of the lab, worded as Postfix words them.
var (
	errTLSRequired  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errAuthDisabled = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Error: authentication not enabled"}
	errRelayDenied  = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errNoSuchUser   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Recipient address rejected: User unknown in local recipient table"}
)

// serveSMTP starts one SMTP listener of the given kind and returns its address.
func (l *Lab) serveSMTP(kind listenerKind, tlsConfig *tls.Config) (string, error) {
	ln, err := listen()
	if err != nil {
		return "", err
	}
	srv := smtp.NewServer(&backend{l: l, kind: kind})
	srv.Domain = l.Hostname
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ErrorLog = slogAdapter{l.log}
	// go-smtp answers AUTH without TLS itself, with 523 5.7.10, unless insecure
	// AUTH is allowed. Allowing it hands every AUTH to the session, which
	// refuses it before STARTTLS with Postfix's 530 5.7.0, and offers no
	// mechanism in EHLO until then.
	srv.AllowInsecureAuth = true
	var serveLn net.Listener = ln
	switch kind {
	case kindRelay, kindSubmission:
		srv.TLSConfig = tlsConfig
	case kindSMTPS:
		serveLn = tls.NewListener(ln, tlsConfig)
	}
	l.serve(kind.String(), ln, func() error { return srv.Serve(serveLn) }, func() error {
		// Every connection is closed by now; Shutdown waits for the last
		// goroutine of go-smtp to return.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	return ln.Addr().String(), nil
}

// backend makes sessions for one listener.
type backend struct {
	l    *Lab
	kind listenerKind
}

// NewSession starts a session after EHLO or HELO (again after STARTTLS).
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{l: b.l, kind: b.kind, conn: c}, nil
}

// session is one SMTP session with the lab.
type session struct {
	l      *Lab
	kind   listenerKind
	conn   *smtp.Conn
	authed bool
	from   string
	rcpts  []*account
}

func (s *session) tls() (tls.ConnectionState, bool) { return s.conn.TLSConnectionState() }

// AuthMechanisms offers PLAIN and LOGIN where the listener wants AUTH, and
// on Submission only after STARTTLS (RFC 4954 section 4).
func (s *session) AuthMechanisms() []string {
	if _, ok := s.tls(); !s.kind.needsAuth() || !ok {
		return nil
	}
	return append([]string{sasl.Plain, sasl.Login}, s.l.oauthMechanisms()...)
}

// Auth checks the lab's submission credentials; a wrong pair gets 535 5.7.8.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.kind.needsAuth() {
		return nil, errAuthDisabled
	}
	if _, ok := s.tls(); !ok {
		return nil, errTLSRequired
	}
	check := func(user, pass string) error {
		okUser := subtle.ConstantTimeCompare([]byte(user), []byte(s.l.Username))
		okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(s.l.Password))
		if okUser&okPass != 1 {
			s.l.log.Info("lab refused smtp auth", "listener", s.kind.String(), "username", user)
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	if s.l.offersOAuth(mech) {
		return s.smtpBearer(strings.ToUpper(mech)), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// Mail enforces the listener's demands before a transaction starts.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if _, ok := s.tls(); s.kind == kindSubmission && !ok {
		return errTLSRequired
	}
	if s.kind.needsAuth() && !s.authed {
		return errAuthRequired
	}
	s.from = from
	return nil
}

// Rcpt accepts lab seeds only: other domains are relaying, which the lab
// refuses, and RuleReject seeds do not exist as far as SMTP can tell.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if domainOf(to) != strings.ToLower(s.l.SeedDomain) {
		if s.authed {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
				Message: "Recipient address rejected: the lab delivers only to " + s.l.SeedDomain}
		}
		return errRelayDenied
	}
	a, ok := s.l.byUser[strings.ToLower(strings.Trim(to, "<> "))]
	if !ok || a.seed.Rule == RuleReject {
		if ok {
			s.l.log.Info("lab rejected recipient", "seed", a.seed.Name, "rule", a.seed.Rule)
		}
		return errNoSuchUser
	}
	for _, r := range s.rcpts {
		if r == a {
			return nil // one copy per mailbox, as an MTA delivers
		}
	}
	s.rcpts = append(s.rcpts, a)
	return nil
}

// Data checks the message, then stamps and files one copy per recipient.
//
// go-smtp v0.25.1 has no separate hook for the text of a successful DATA reply:
// it answers "250 2.0.0 OK: queued" when Data returns nil, and writes any
// *smtp.SMTPError it returns as it is (dataErrorToStatus in conn.go, for DATA
// and BDAT alike). An SMTPError with code 250 is therefore how the lab answers
// "250 2.0.0 Ok: queued as <id>", as Postfix does, so that clients can read
// the queue id that its Received header carries.
func (s *session) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp's own error for a message over MaxMessageBytes
	}
	cs, isTLS := s.tls()
	d := &delivery{qid: queueID(), helo: s.conn.Hostname(), ip: clientIP(s.conn.Conn()), with: "ESMTP",
		now: time.Now(), body: body, token: tokenOf(body)}
	if isTLS {
		d.with += "S"
		// Postfix words it "using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256".
		d.tls = "using " + strings.Replace(tls.VersionName(cs.Version), "TLS ", "TLSv", 1) +
			" with cipher " + tls.CipherSuiteName(cs.CipherSuite)
	}
	if s.authed {
		d.with += "A"
	}
	d.verdict = s.l.check(s.from, d.helo, d.ip, body)
	for _, a := range s.rcpts {
		if err := s.l.deliver(d, a); err != nil {
			s.l.log.Error("lab delivery failed", "seed", a.seed.Name, "queue_id", d.qid, "token", d.token, "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: queue file write error"}
		}
	}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + d.qid}
}

// Reset forgets the transaction, after RSET, DATA or a new EHLO.
func (s *session) Reset() { s.from, s.rcpts = "", nil }

// Logout ends the session.
func (s *session) Logout() error { return nil }

// queueID returns a new Postfix-like queue id: ten upper-case hex digits.
func queueID() string {
	var b [5]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func clientIP(c net.Conn) net.IP {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return net.IPv4(127, 0, 0, 1)
}
