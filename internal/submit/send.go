package submit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailflow/mailflow/internal/oauth/bearer"
)

// Security values of a Path.
const (
	SecurityNone     = "none"
	SecuritySTARTTLS = "starttls"
	SecurityTLS      = "tls"
)

// Path is an SMTP endpoint and how to use it.
type Path struct {
	Name     string
	Host     string
	Port     int
	Security string // SecurityNone, SecuritySTARTTLS or SecurityTLS
	// NoSTARTTLS keeps a SecurityNone session plain even when STARTTLS is offered.
	NoSTARTTLS    bool
	TLSServerName string         // default Host
	RootCAs       *x509.CertPool // nil: the system roots

	Username string // "" for no AUTH
	Password string
	// Tokens, when set, authenticates with an OAuth2 access token from it
	// instead of the password: AUTH OAUTHBEARER, or XOAUTH2 where the server
	// offers only that. A refused token is refreshed once and tried again.
	Tokens bearer.TokenSource
	// AuthMechanism is "" (PLAIN, then LOGIN, as offered), "plain" or
	// "login"; with Tokens, "" (OAUTHBEARER, then XOAUTH2), "oauthbearer" or
	// "xoauth2".
	AuthMechanism string
	// AllowPlaintextAuth permits credentials on a session without TLS.
	AllowPlaintextAuth bool

	HELO     string
	MailFrom string
	// Timeout bounds each stage; the context's deadline bounds the whole.
	Timeout time.Duration
}

// DefaultTimeout bounds a stage when Path.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// session is one submission in progress.
type session struct {
	ctx  context.Context
	path Path
	log  *slog.Logger
	tr   *transcript
	res  *Result
	conn net.Conn // the TCP connection, for deadlines in the plain phase
	c    *smtp.Client
	tls  bool
}

func newSession(ctx context.Context, path Path, log *slog.Logger) *session {
	if path.Timeout <= 0 {
		path.Timeout = DefaultTimeout
	}
	return &session{ctx: ctx, path: path, log: log, tr: newTranscript(), res: &Result{Start: time.Now().UTC()}}
}

// open connects, secures and authenticates the session, up to MAIL.
func (s *session) open() bool {
	raw, ok := s.dial()
	if !ok {
		return false
	}
	// A cancelled round never hangs on a socket. The raw connection is closed,
	// never conn, which the plain phase replaces (with nil when it fails).
	stop := context.AfterFunc(s.ctx, func() { raw.Close() })
	defer stop()
	conn := raw

	replayed := false
	if s.path.Security == SecuritySTARTTLS || (s.path.Security == SecurityNone && !s.path.NoSTARTTLS) {
		if conn, ok = s.plainPhase(conn); !ok {
			return false
		}
		replayed = true
	}
	s.c = smtp.NewClient(conn)
	s.c.DebugWriter = s.tr
	return s.hello(replayed) && s.auth()
}

// transaction sends one message: MAIL, RCPT, DATA.
func (s *session) transaction(rcpt string, msg []byte) bool {
	if !s.step(StageMail, func() error { return s.c.Mail(s.path.MailFrom, nil) }) {
		return false
	}
	if !s.step(StageRcpt, func() error { return s.c.Rcpt(rcpt, nil) }) {
		return false
	}
	if !s.data(msg) {
		return false
	}
	s.res.Outcome = Accepted
	return true
}

// close ends the session's connection, also when the plain phase failed
// before go-smtp had it.
func (s *session) close() {
	if s.c != nil {
		s.c.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
}

// dial connects, and for implicit TLS completes the handshake.
func (s *session) dial() (net.Conn, bool) {
	addr := net.JoinHostPort(s.path.Host, strconv.Itoa(s.path.Port))
	var conn net.Conn
	ok := s.step(StageConnect, func() error {
		ctx, cancel := context.WithTimeout(s.ctx, s.path.Timeout)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			s.conn = c
			conn = dirConn{Conn: c, t: s.tr}
		}
		return err
	})
	if !ok || s.path.Security != SecurityTLS {
		return conn, ok
	}
	tc := tls.Client(conn, s.tlsConfig())
	ok = s.step(StageTLS, func() error {
		ctx, cancel := context.WithTimeout(s.ctx, s.path.Timeout)
		defer cancel()
		return tc.HandshakeContext(ctx)
	})
	if !ok {
		conn.Close()
		return nil, false
	}
	s.tls = true
	s.res.TLS = tlsInfo(tc.ConnectionState())
	return tc, true
}

func (s *session) tlsConfig() *tls.Config {
	name := s.path.TLSServerName
	if name == "" {
		name = s.path.Host
	}
	return &tls.Config{ServerName: name, RootCAs: s.path.RootCAs, MinVersion: tls.VersionTLS12}
}

// hello sends EHLO through go-smtp. When the banner was not read by the plain
// phase, go-smtp reads it in the same call, and its arrival time splits the call
// into two stages.
func (s *session) hello(replayed bool) bool {
	m := s.tr.mark()
	start := time.Now()
	err := s.call(func() error { return s.c.Hello(s.helo()) })
	replies := s.tr.since(m)
	if !replayed {
		if len(replies) == 0 {
			return s.record(StageBanner, start, time.Since(start), nil, err)
		}
		banner := replies[0]
		replies = replies[1:]
		var bannerErr error
		if banner.code != 220 {
			bannerErr = err
		}
		if !s.record(StageBanner, start, banner.at.Sub(start), &banner, bannerErr) {
			return false
		}
		start = banner.at
	}
	var last *reply
	if len(replies) > 0 {
		last = &replies[len(replies)-1]
	}
	return s.record(StageEHLO, start, time.Since(start), last, err)
}

func (s *session) helo() string {
	if s.path.HELO == "" {
		return "localhost"
	}
	return s.path.HELO
}

// auth authenticates when the path has a username.
func (s *session) auth() bool {
	if s.path.Username == "" {
		return true
	}
	if !s.tls && !s.path.AllowPlaintextAuth {
		return s.fail(StageAuth, "refusing to send credentials over a session without TLS (use security = \"starttls\" or \"tls\", or set allow_plaintext_auth = true)")
	}
	if s.path.Tokens != nil {
		return s.authOAuth()
	}
	mech, err := s.mechanism()
	if err != nil {
		return s.fail(StageAuth, err.Error())
	}
	var client sasl.Client
	if mech == sasl.Plain {
		client = sasl.NewPlainClient("", s.path.Username, s.path.Password)
	} else {
		client = sasl.NewLoginClient(s.path.Username, s.path.Password)
	}
	return s.step(StageAuth, func() error { return s.c.Auth(client) })
}

// authOAuth authenticates with a bearer token (RFC 7628, or XOAUTH2). A
// token the server refuses is refreshed once; a second refusal fails the
// probe at AUTH with the server's reply and the command that mends it.
func (s *session) authOAuth() bool {
	_, offered := s.c.Extension("AUTH")
	has := func(m string) bool { return slices.Contains(strings.Fields(strings.ToUpper(offered)), m) }
	mech := bearer.Choose(has)
	if want := strings.ToUpper(s.path.AuthMechanism); want != "" {
		mech = ""
		if has(want) {
			mech = want
		}
	}
	if mech == "" {
		return s.fail(StageAuth, fmt.Sprintf("server offers no bearer mechanism mailflow may use (it offers AUTH %s; the path has auth = \"oauth2\")", or(offered, "nothing")))
	}
	return s.step(StageAuth, func() error {
		err := bearer.Authenticate(s.ctx, s.path.Tokens, mech, s.path.Username, s.path.Host, s.path.Port,
			func(c sasl.Client) error { return s.c.Auth(c) }, refusedSMTP)
		var re *bearer.RefusedError
		if errors.As(err, &re) {
			return fmt.Errorf("%w (run mailflow auth login %s)", err, bearer.LoginName(s.path.Tokens, s.path.Name))
		}
		return err
	})
}

// refusedSMTP tells a refused credential (535, RFC 4954 section 6) from
// other failures.
func refusedSMTP(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code == 535
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *session) mechanism() (string, error) {
	ok, offered := s.c.Extension("AUTH")
	if !ok {
		return "", errors.New("server offers no AUTH but the path has a username (remove username, or use a submission port)")
	}
	has := func(m string) bool {
		for _, f := range strings.Fields(strings.ToUpper(offered)) {
			if f == m {
				return true
			}
		}
		return false
	}
	want := strings.ToUpper(s.path.AuthMechanism)
	switch {
	case want != "" && has(want):
		return want, nil
	case want != "":
		return "", fmt.Errorf("server does not offer AUTH %s (it offers %s)", want, offered)
	case has(sasl.Plain):
		return sasl.Plain, nil
	case has(sasl.Login):
		return sasl.Login, nil
	}
	return "", fmt.Errorf("server offers neither AUTH PLAIN nor LOGIN (it offers %s)", offered)
}

// data sends the message and reads the final reply.
func (s *session) data(msg []byte) bool {
	var resp *smtp.DataResponse
	ok := s.step(StageData, func() error {
		w, err := s.c.Data()
		if err != nil {
			return err
		}
		s.tr.startData(len(msg))
		_, werr := w.Write(msg)
		if werr != nil {
			w.Close()
			return werr
		}
		resp, err = w.CloseWithResponse()
		return err
	})
	if !ok {
		return false
	}
	s.res.AcceptedAt = time.Now().UTC()
	last := s.res.Steps[len(s.res.Steps)-1]
	s.res.Stage, s.res.Code, s.res.EnhancedCode, s.res.Text = StageData, last.Code, last.EnhancedCode, last.Text
	if resp != nil {
		s.res.QueueID = QueueID(resp.StatusText)
	}
	return true
}

// call runs f with go-smtp's per-command timeout set from the path and the
// context's deadline, whichever comes first.
func (s *session) call(f func() error) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	d := s.budget()
	s.c.CommandTimeout, s.c.SubmissionTimeout = d, d
	return s.ctxErr(f())
}

// budget is the time one stage may take: the path's timeout, or what is left
// of the context's deadline when that is sooner.
func (s *session) budget() time.Duration {
	d := s.path.Timeout
	if dl, ok := s.ctx.Deadline(); ok && time.Until(dl) < d {
		d = max(time.Until(dl), time.Millisecond)
	}
	return d
}

// ctxErr puts the context's reason first when a stage failed because the
// round was stopped or ran out of time.
func (s *session) ctxErr(err error) error {
	if err != nil && s.ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", s.ctx.Err(), err)
	}
	return err
}

// step runs one stage and records it. It reports whether the stage succeeded.
func (s *session) step(stage Stage, f func() error) bool {
	m := 0
	if s.c != nil {
		m = s.tr.mark()
	}
	start := time.Now()
	var err error
	if s.c == nil {
		err = f()
	} else {
		err = s.call(f)
	}
	var last *reply
	if s.c != nil {
		last = s.tr.lastSince(m)
	}
	return s.record(stage, start, time.Since(start), last, err)
}

// record appends a step and, on failure, classifies the outcome.
func (s *session) record(stage Stage, start time.Time, d time.Duration, r *reply, err error) bool {
	st := Step{Stage: stage, Start: start.UTC(), Duration: d}
	if r != nil {
		st.Code, st.EnhancedCode, st.Text = r.code, r.enhancedCode, r.text
	}
	var ce *codeError
	if errors.As(err, &ce) {
		st.Code = ce.code
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		// The error is the authoritative reply (the transcript may be cut short).
		st.Code, st.Text = se.Code, se.Message
		st.EnhancedCode = enhanced(se.EnhancedCode)
	}
	if err != nil {
		st.Err = err.Error()
	}
	s.res.Steps = append(s.res.Steps, st)
	if err == nil {
		return true
	}
	s.res.Stage, s.res.Code, s.res.EnhancedCode, s.res.Text = stage, st.Code, st.EnhancedCode, st.Text
	s.res.Outcome, s.res.Reason = classify(stage, st.Code, err)
	s.log.Debug("smtp stage failed", "path", s.path.Name, "stage", stage, "code", st.Code, "err", err)
	return false
}

// fail records a refusal of mailflow's own at a stage (nothing was sent for it).
func (s *session) fail(stage Stage, reason string) bool {
	s.res.Steps = append(s.res.Steps, Step{Stage: stage, Start: time.Now().UTC(), Err: reason})
	s.res.Stage, s.res.Outcome, s.res.Reason = stage, Failed, reason
	return false
}

// Classify maps a failed stage and its reply code to an outcome. A reply to
// MAIL, RCPT or DATA decides deferred (4xx) or rejected (5xx); anything earlier,
// AUTH included, and anything without a reply is an error of the path itself.
func classify(stage Stage, code int, err error) (Outcome, string) {
	reason := err.Error()
	switch stage {
	case StageMail, StageRcpt, StageData:
		switch {
		case code >= 400 && code < 500:
			return Deferred, reason
		case code >= 500:
			return Rejected, reason
		}
	}
	return Failed, reason
}

func enhanced(c smtp.EnhancedCode) string {
	if c == smtp.NoEnhancedCode || c == (smtp.EnhancedCode{}) {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", c[0], c[1], c[2])
}

// QueueID finds the queue id in a final DATA reply: Postfix's "queued as ID",
// Exim's "id=ID", and the "queued as <ID>" forms of others. "" when absent.
func QueueID(text string) string {
	_, rest, ok := strings.Cut(text, "queued as ")
	if !ok {
		if i := strings.Index(text, "id="); i >= 0 {
			rest, ok = text[i+3:], true
		}
	}
	if !ok {
		return ""
	}
	rest = strings.TrimLeft(rest, "<")
	end := strings.IndexAny(rest, " >\r\n;,")
	if end >= 0 {
		rest = rest[:end]
	}
	return strings.TrimSpace(rest)
}
