// Package seedbox reads seed mailboxes over IMAP and reports where a probe landed
// and when it was seen. It finds the inbox and junk folders, watches them with
// IDLE (or polling where the server has no IDLE), matches messages by their probe
// token only, and deletes found probes when asked. It does not judge the
// message; see verdict.
package seedbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailflow/mailflow/internal/oauth/bearer"
)

// Security values of an Account.
const (
	SecurityNone     = "none"
	SecuritySTARTTLS = "starttls"
	SecurityTLS      = "tls"
)

// Account is one seed mailbox and how to reach it.
type Account struct {
	Name     string // the seed's name, for logs and errors
	Host     string
	Port     int
	Security string
	// TLSConfig carries the server name and roots; nil means the host's name and
	// the system roots.
	TLSConfig *tls.Config

	Username string
	Password string
	// Tokens, when set, logs in with an OAuth2 access token from it instead
	// of the password: AUTHENTICATE OAUTHBEARER, or XOAUTH2 where the server
	// offers only that. A refused token is refreshed once and tried again.
	Tokens bearer.TokenSource
	// IMAPID sends the ID command (RFC 2971) after logging in, for providers
	// that want clients to name themselves (catalog key imap_id).
	IMAPID bool
	// AllowPlaintextAuth permits LOGIN on a session without TLS.
	AllowPlaintextAuth bool

	Inbox string // default "INBOX"
	// Junk names the junk folder; "" finds it by SPECIAL-USE \Junk, then JunkNames.
	Junk      string
	JunkNames []string
	// Extra names further folders to watch, where a provider's or a user's
	// rule may file mail (found there, a probe is placed other:<folder>).
	Extra []string

	// Cleanup deletes a probe message once it has been reported.
	Cleanup bool
	// NoIDLE polls even where the server offers IDLE.
	NoIDLE bool
	// FastPoll, when set, polls every FastPoll instead of idling for
	// fastWindow after a probe is expected: for servers that hold IDLE news
	// back (Dovecot waits 500 ms before telling), at the cost of commands.
	FastPoll time.Duration
	// Timeout bounds each IMAP command (default 30s).
	Timeout time.Duration
	// PollInterval is how often folders are searched without IDLE, and how often
	// an idling watcher searches anyway (default 10s).
	PollInterval time.Duration
	// Limiter bounds the connections open to Host; nil means no bound.
	Limiter *Limiter
}

func (a Account) timeout() time.Duration {
	if a.Timeout <= 0 {
		return 30 * time.Second
	}
	return a.Timeout
}

func (a Account) pollInterval() time.Duration {
	if a.PollInterval <= 0 {
		return 10 * time.Second
	}
	return a.PollInterval
}

// Session is one logged-in IMAP connection.
type Session struct {
	acct Account
	c    *imapclient.Client
	log  *slog.Logger
	// updates receives a value when the server reports new messages in the
	// selected folder (an untagged EXISTS), to end an IDLE early.
	updates chan struct{}
	// raw is the TCP connection under any TLS, to end it with a FIN first.
	raw net.Conn
	// release gives the connection's slot back to the account's Limiter.
	release func()
}

// Dial connects to the account's server and logs in. It first waits for a
// connection slot at the host when the account has a Limiter (bounded by ctx
// only: the wait is for other seeds, not for the server). Every network step
// is bounded by the account's Timeout and by ctx.
func Dial(ctx context.Context, acct Account, log *slog.Logger) (*Session, error) {
	release := func() {}
	if acct.Limiter != nil {
		var err error
		if release, err = acct.Limiter.acquire(ctx, acct.Host); err != nil {
			return nil, fmt.Errorf("seed %s: waiting for an IMAP connection slot at %s: %w", acct.Name, acct.Host, err)
		}
	}
	return dialHeld(ctx, acct, log, release)
}

// dialHeld is Dial with the host slot already held; release frees it, and is
// called here when the dial fails.
func dialHeld(ctx context.Context, acct Account, log *slog.Logger, release func()) (*Session, error) {
	s, err := dial(ctx, acct, log)
	if err != nil {
		release()
		return nil, err
	}
	s.release = release
	return s, nil
}

func dial(ctx context.Context, acct Account, log *slog.Logger) (*Session, error) {
	s := &Session{acct: acct, log: log, updates: make(chan struct{}, 1)}
	addr := net.JoinHostPort(acct.Host, strconv.Itoa(acct.Port))
	dctx, cancel := context.WithTimeout(ctx, acct.timeout())
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("seed %s: connect %s: %w", acct.Name, addr, err)
	}
	s.raw = conn
	opts := &imapclient.Options{
		TLSConfig: acct.tlsConfig(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					select {
					case s.updates <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	secure := false
	switch acct.Security {
	case SecurityTLS:
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			disconnectRaw(conn)
			return nil, fmt.Errorf("seed %s: TLS with %s: %w", acct.Name, addr, err)
		}
		s.c, secure = imapclient.New(tc, opts), true
	case SecuritySTARTTLS:
		err := s.bounded(ctx, func() error {
			var err error
			s.c, err = imapclient.NewStartTLS(conn, opts)
			return err
		}, func() { conn.Close() })
		if err != nil {
			disconnectRaw(conn)
			return nil, fmt.Errorf("seed %s: STARTTLS with %s: %w", acct.Name, addr, err)
		}
		secure = true
	default:
		s.c = imapclient.New(conn, opts)
	}
	if err := s.Do(ctx, "greeting", func() error { return s.c.WaitGreeting() }); err != nil {
		s.disconnect()
		return nil, err
	}
	if err := s.login(ctx, secure); err != nil {
		s.disconnect()
		return nil, err
	}
	if acct.IMAPID {
		s.sendID(ctx)
	}
	return s, nil
}

func (a Account) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if a.TLSConfig != nil {
		cfg = a.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = a.Host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// login uses AUTHENTICATE PLAIN where offered, LOGIN otherwise. Credentials never
// travel over a plain session unless the account allows it.
func (s *Session) login(ctx context.Context, secure bool) error {
	if !secure && !s.acct.AllowPlaintextAuth {
		return fmt.Errorf("seed %s: refusing to log in without TLS (use imap_security = \"tls\" or \"starttls\", or set allow_plaintext_auth = true)", s.acct.Name)
	}
	if s.acct.Tokens != nil {
		return s.loginOAuth(ctx)
	}
	err := s.Do(ctx, "login", func() error {
		if s.c.Caps().Has(imap.AuthCap(sasl.Plain)) {
			return s.c.Authenticate(sasl.NewPlainClient("", s.acct.Username, s.acct.Password))
		}
		return s.c.Login(s.acct.Username, s.acct.Password).Wait()
	})
	if err != nil {
		return fmt.Errorf("%w (check the seed's username and password_env or password_file)", err)
	}
	return nil
}

// loginOAuth authenticates with a bearer token: OAUTHBEARER where offered,
// else XOAUTH2. A token the server refuses is refreshed once; a second
// refusal fails the seed with the server's error and the command that mends
// it.
func (s *Session) loginOAuth(ctx context.Context) error {
	mech := bearer.Choose(func(m string) bool { return s.c.Caps().Has(imap.AuthCap(m)) })
	if mech == "" {
		return fmt.Errorf("seed %s: the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2 (it offers %s), and the seed logs in with auth = \"oauth2\"", s.acct.Name, authCaps(s.c.Caps()))
	}
	err := bearer.Authenticate(ctx, s.acct.Tokens, mech, s.acct.Username, s.acct.Host, s.acct.Port,
		func(c sasl.Client) error {
			return s.bounded(ctx, func() error { return s.c.Authenticate(c) }, func() { s.disconnect() })
		}, refusedIMAP)
	return oauthLoginError(s.acct, mech, err)
}

// refusedIMAP tells a server's refusal (NO) from a broken session.
func refusedIMAP(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo
}

// oauthLoginError words a failed bearer login of acct.
func oauthLoginError(acct Account, mech string, err error) error {
	var te *bearer.TokenError
	var re *bearer.RefusedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return err // the token source's own words name the seed and the fix
	case errors.As(err, &re):
		return fmt.Errorf("seed %s: %w (run mailflow auth login %s)", acct.Name, err, bearer.LoginName(acct.Tokens, acct.Name))
	}
	return fmt.Errorf("seed %s: authenticate %s: %w", acct.Name, mech, err)
}

// authCaps lists the AUTH= capabilities of a server, for an error.
func authCaps(caps imap.CapSet) string {
	var out []string
	for c := range caps {
		if m, ok := strings.CutPrefix(string(c), "AUTH="); ok {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return "no AUTH= mechanism"
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// sendID names mailflow to a server whose provider wants clients to (catalog
// key imap_id): NetEase refuses SELECT until a client has sent ID. It is sent
// even when the capability is not announced (RFC 2971 would want ID there),
// since the catalog says the provider wants it. A refusal is logged, not
// fatal: the session works or fails on its own.
func (s *Session) sendID(ctx context.Context) {
	err := s.Do(ctx, "id", func() error {
		_, err := s.c.ID(&imap.IDData{Name: "mailflow", Vendor: "mailflow", SupportURL: "https://github.com/mailflow/mailflow"}).Wait()
		return err
	})
	if err != nil {
		s.log.Warn("IMAP ID refused", "seed", s.acct.Name, "err", err)
	}
}

// Do runs one IMAP command, bounded by the account's Timeout and by ctx. go-imap
// takes no context, so a command that overruns has its connection closed, which
// ends the wait.
func (s *Session) Do(ctx context.Context, what string, f func() error) error {
	err := s.bounded(ctx, f, func() { s.disconnect() })
	if err != nil {
		return fmt.Errorf("seed %s: %s: %w", s.acct.Name, what, err)
	}
	return nil
}

func (s *Session) bounded(ctx context.Context, f func() error, abort func()) error {
	ctx, cancel := context.WithTimeout(ctx, s.acct.timeout())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		abort()
		<-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s: %w", s.acct.timeout(), ctx.Err())
		}
		return ctx.Err()
	}
}

// Caps returns the server's capabilities.
func (s *Session) Caps() imap.CapSet { return s.c.Caps() }

// Close logs out (briefly), closes the connection and frees its slot.
func (s *Session) Close() error {
	err := s.logout()
	s.release()
	return err
}

// logout logs out (briefly) and closes the connection, keeping its slot.
func (s *Session) logout() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.bounded(ctx, func() error { return s.c.Logout().Wait() }, func() { s.disconnect() }) == nil {
		// The slot is free once the server has let go of the session, not when
		// we stop listening: a provider counting sessions must never see one
		// more than the bound.
		select {
		case <-s.c.Closed():
		case <-ctx.Done():
		}
	}
	return s.disconnect()
}

// abort ends the connection without logging out (it is broken, or the
// watcher is closing) and frees its slot.
func (s *Session) abort() error {
	err := s.disconnect()
	s.release()
	return err
}

// closeWait bounds how long ending a connection waits for the server to see it.
const closeWait = 500 * time.Millisecond

// disconnect ends the connection and returns once the server has closed its side
// too, or after closeWait. Until then the server still counts the session, so
// freeing its slot earlier could put one connection too many at the host.
func (s *Session) disconnect() error {
	if tc, ok := s.raw.(*net.TCPConn); ok {
		tc.CloseWrite() // the server reads EOF, ends the session and closes
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-s.c.Closed():
	case <-t.C:
	}
	return s.c.Close()
}

// disconnectRaw is disconnect for a connection that has no IMAP client yet.
func disconnectRaw(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		conn.SetReadDeadline(time.Now().Add(closeWait))
		io.Copy(io.Discard, conn)
	}
	conn.Close()
}
