package lab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// listener kinds: what a lab SMTP listener demands of its clients.
type listenerKind int

const (
	kindRelay      listenerKind = iota // plain, STARTTLS offered, no AUTH
	kindPlainRelay                     // plain, no STARTTLS, no AUTH
	kindSubmission                     // STARTTLS required before AUTH and MAIL; AUTH required
	kindSMTPS                          // implicit TLS; AUTH required
)

var (
	errTLSRequired  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errRelayDenied  = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errNoSuchUser   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Recipient address rejected: User unknown in local recipient table"}
)

// backend makes sessions for one listener.
type backend struct {
	l    *Lab
	kind listenerKind
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{l: b.l, kind: b.kind, conn: c}, nil
}

// session is one SMTP connection to the lab.
type session struct {
	l      *Lab
	kind   listenerKind
	conn   *smtp.Conn
	authed bool
	from   string
	rcpts  []Seed
}

func (s *session) tls() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

// AuthMechanisms offers AUTH only where the listener wants it.
func (s *session) AuthMechanisms() []string {
	if s.kind == kindSubmission || s.kind == kindSMTPS {
		return []string{sasl.Plain, sasl.Login}
	}
	return nil
}

// Auth checks the lab's submission credentials.
func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.l.Username || pass != s.l.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}
	switch mech {
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
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.kind == kindSubmission && !s.tls() {
		return errTLSRequired
	}
	if (s.kind == kindSubmission || s.kind == kindSMTPS) && !s.authed {
		return errAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if domainOf(to) != s.l.SeedDomain {
		if s.authed {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 2}, Message: "The lab delivers only to " + s.l.SeedDomain}
		}
		return errRelayDenied
	}
	seed, ok := s.l.seedByAddress(to)
	if !ok || seed.Rule == RuleReject {
		return errNoSuchUser
	}
	s.rcpts = append(s.rcpts, seed)
	return nil
}

// Data checks the message, stamps Received and Authentication-Results and files
// it per recipient. The final reply carries the queue id, as Postfix's does.
func (s *session) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	qid := queueID()
	ip := clientIP(s.conn.Conn())
	v := s.l.check(s.from, ip, body)
	with := "ESMTP"
	if s.tls() {
		with = "ESMTPS"
	}
	if s.authed {
		with += "A"
	}
	for _, seed := range s.rcpts {
		spam := v.spam || seed.Rule == RuleJunk
		var hdr bytes.Buffer
		fmt.Fprintf(&hdr, "Received: from %s (localhost [%s])\r\n\tby %s with %s id %s\r\n\tfor <%s>; %s\r\n",
			s.conn.Hostname(), ip, s.l.Hostname, with, qid, seed.Address, time.Now().Format(time.RFC1123Z))
		fmt.Fprintf(&hdr, "Authentication-Results: %s\r\n", s.l.authResults(v, s.from))
		fmt.Fprintf(&hdr, "X-Spam: %s\r\n", map[bool]string{true: "Yes", false: "No"}[spam])
		msg := append(hdr.Bytes(), body...)
		if err := s.l.deliver(seed, spam, msg, qid); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Delivery failed: " + err.Error()}
		}
	}
	// go-smtp answers 250 "OK: queued"; an SMTPError with code 250 is how a
	// session sets its own success text.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + qid}
}

func (s *session) Reset() { s.from, s.rcpts = "", nil }

func (s *session) Logout() error { return nil }

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

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl offers only as a client.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (ls *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch ls.step {
	case 0:
		ls.step++
		if len(response) > 0 { // an initial response is the username
			ls.user = string(response)
			ls.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		ls.user = string(response)
		ls.step++
		return []byte("Password:"), false, nil
	case 2:
		ls.step++
		return nil, true, ls.check(ls.user, string(response))
	}
	return nil, true, errors.New("unexpected AUTH LOGIN response")
}
