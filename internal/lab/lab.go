// Package lab is an in-process mail system on loopback for `mailflow demo` and
// for tests: go-smtp listeners for the three classic submission paths delivering
// into a go-imap v2 memory server whose seeds have an INBOX and a \Junk folder.
// Delivery stamps a Received header and an Authentication-Results header from
// real checks — DKIM verified with go-msgauth against keys the lab publishes,
// SPF and DMARC against the lab's own records — and files spam into Junk. It is
// imported only by tests and by the demo; it is not a mail server to deploy.
package lab

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// Rule is what the lab does with mail for a seed.
type Rule string

// Rules.
const (
	RuleDeliver Rule = "deliver" // INBOX, unless the lab's spam checks file it into Junk
	RuleJunk    Rule = "junk"    // this seed's filter files every message into Junk
	RuleReject  Rule = "reject"  // RCPT TO is answered 550 5.1.1
	RuleDrop    Rule = "drop"    // accepted with 250, then silently discarded
)

// SeedSpec asks for a seed.
type SeedSpec struct {
	Name string
	Rule Rule
}

// Seed is a lab mailbox with its IMAP credentials.
type Seed struct {
	Name, Address, Username, Password string
	Rule                              Rule
}

// Options configure Start.
type Options struct {
	Logger *slog.Logger // nil: discard
	Seeds  []SeedSpec   // nil: DefaultSeeds()
	// NoIDLE leaves IDLE out of the IMAP capabilities, like servers that make
	// clients poll.
	NoIDLE bool
}

// DefaultSeeds are alice (deliver), bob (junk), carol (reject) and dave (drop).
func DefaultSeeds() []SeedSpec {
	return []SeedSpec{{"alice", RuleDeliver}, {"bob", RuleJunk}, {"carol", RuleReject}, {"dave", RuleDrop}}
}

// Lab is a running lab. Its fields are read-only after Start.
type Lab struct {
	Hostname     string // authserv-id of its Authentication-Results, "by" of its Received
	SeedDomain   string // seed addresses are name@SeedDomain
	SenderDomain string // the domain probes are sent from, with SPF, DKIM and DMARC records

	Relay      string // plain SMTP offering STARTTLS, no AUTH (like port 25)
	PlainRelay string // plain SMTP that never offers STARTTLS, no AUTH
	Submission string // STARTTLS required before AUTH and MAIL, AUTH required (like 587)
	SMTPS      string // implicit TLS, AUTH required (like 465)
	IMAP       string // IMAP over implicit TLS
	// IMAPStartTLS is plain IMAP offering STARTTLS; LOGIN is refused before it.
	IMAPStartTLS string

	CAFile string // PEM file of the CA that signed the lab's certificate
	CAPEM  []byte

	Username, Password string // SMTP AUTH for Submission and SMTPS

	DKIMSelector string
	DKIMKeyPEM   []byte // PKCS#8 RSA key whose public half the lab publishes

	Seeds []Seed

	log     *slog.Logger
	records records

	mu         sync.Mutex
	deliveries map[string]int // by probe token: messages accepted for delivery
	imapConns  map[net.Conn]struct{}
	mem        *imapmemserver.Server
	users      map[string]*imapmemserver.User
	dir        string
	closers    []io.Closer
	once       sync.Once
}

// Start starts every listener on 127.0.0.1 with a free port.
func Start(opts Options) (*Lab, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	specs := opts.Seeds
	if specs == nil {
		specs = DefaultSeeds()
	}
	l := &Lab{
		Hostname: "lab.mailflow.test", SeedDomain: "seeds.mailflow.test", SenderDomain: "mailflow.test",
		Username: "monitor@mailflow.test", Password: secret(), DKIMSelector: "lab",
		log: log, mem: imapmemserver.New(), users: map[string]*imapmemserver.User{},
	}
	if err := l.start(specs, !opts.NoIDLE); err != nil {
		l.Close()
		return nil, fmt.Errorf("lab: %w", err)
	}
	return l, nil
}

func (l *Lab) start(specs []SeedSpec, idle bool) error {
	caPEM, cert, err := newCertificates(time.Now())
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	l.CAPEM = caPEM
	if l.dir, err = os.MkdirTemp("", "mailflow-lab-"); err != nil {
		return err
	}
	l.CAFile = filepath.Join(l.dir, "ca.pem")
	if err := os.WriteFile(l.CAFile, caPEM, 0o644); err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if l.DKIMKeyPEM, err = keyPEM(key); err != nil {
		return err
	}
	if l.records, err = publish(l.SenderDomain, l.DKIMSelector, key); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, sp := range specs {
		if sp.Name == "" || seen[sp.Name] || strings.ContainsAny(sp.Name, "@ ") {
			return fmt.Errorf("seed name %q is empty, repeated or not a local part", sp.Name)
		}
		seen[sp.Name] = true
		s := Seed{Name: sp.Name, Address: sp.Name + "@" + l.SeedDomain, Password: secret(), Rule: sp.Rule}
		s.Username = s.Address
		if l.users[s.Name], err = addMailbox(l.mem, s.Username, s.Password); err != nil {
			return err
		}
		l.Seeds = append(l.Seeds, s)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for _, ls := range []struct {
		addr *string
		kind listenerKind
	}{{&l.Relay, kindRelay}, {&l.PlainRelay, kindPlainRelay}, {&l.Submission, kindSubmission}, {&l.SMTPS, kindSMTPS}} {
		if *ls.addr, err = l.serveSMTP(ls.kind, tlsConfig); err != nil {
			return err
		}
	}
	if l.IMAP, err = l.serveIMAP(tlsConfig, true, idle); err != nil {
		return err
	}
	l.IMAPStartTLS, err = l.serveIMAP(tlsConfig, false, idle)
	return err
}

func (l *Lab) serveSMTP(kind listenerKind, tlsConfig *tls.Config) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := smtp.NewServer(&backend{l: l, kind: kind})
	srv.Domain = l.Hostname
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ErrorLog = slogAdapter{l.log}
	switch kind {
	case kindRelay, kindSubmission:
		srv.TLSConfig = tlsConfig
	case kindSMTPS:
		ln = tls.NewListener(ln, tlsConfig)
	}
	go srv.Serve(ln)
	l.closers = append(l.closers, srv)
	return ln.Addr().String(), nil
}

func (l *Lab) serveIMAP(tlsConfig *tls.Config, implicit, idle bool) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	ln = &trackedListener{Listener: ln, l: l}
	opts := &imapserver.Options{Logger: slogAdapter{l.log}}
	if implicit {
		ln = tls.NewListener(ln, tlsConfig)
	} else {
		opts.TLSConfig = tlsConfig
	}
	srv := newIMAPServer(l.mem, opts, idle)
	go srv.Serve(ln)
	l.closers = append(l.closers, srv)
	return ln.Addr().String(), nil
}

// trackedListener remembers the IMAP connections it accepts, so that a test
// can cut them as a network failure would.
type trackedListener struct {
	net.Listener
	l *Lab
}

func (t *trackedListener) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err == nil {
		t.l.mu.Lock()
		if t.l.imapConns == nil {
			t.l.imapConns = map[net.Conn]struct{}{}
		}
		t.l.imapConns[c] = struct{}{}
		t.l.mu.Unlock()
	}
	return c, err
}

// CutIMAP closes every open IMAP connection, as a dropped network or a server
// restart would, and returns how many it cut.
func (l *Lab) CutIMAP() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for c := range l.imapConns {
		if c.Close() == nil {
			n++
		}
		delete(l.imapConns, c)
	}
	return n
}

// Close stops every listener and removes the CA file. It is safe to call twice.
func (l *Lab) Close() error {
	var errs []error
	l.once.Do(func() {
		for _, c := range l.closers {
			errs = append(errs, c.Close())
		}
		if l.dir != "" {
			errs = append(errs, os.RemoveAll(l.dir))
		}
	})
	return errors.Join(errs...)
}

// Seed returns the seed called name.
func (l *Lab) Seed(name string) (Seed, bool) {
	for _, s := range l.Seeds {
		if s.Name == name {
			return s, true
		}
	}
	return Seed{}, false
}

func (l *Lab) seedByAddress(addr string) (Seed, bool) {
	addr = strings.ToLower(strings.Trim(addr, "<> "))
	for _, s := range l.Seeds {
		if s.Address == addr {
			return s, true
		}
	}
	return Seed{}, false
}

// Deliveries returns how many messages carrying a probe token the lab accepted
// for delivery (dropped ones included): a probe sent twice shows 2.
func (l *Lab) Deliveries(token string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deliveries[token]
}

func (l *Lab) countDelivery(token string) {
	if token == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.deliveries == nil {
		l.deliveries = map[string]int{}
	}
	l.deliveries[token]++
}

// Count returns how many messages are in a seed's folder ("INBOX" or "Junk").
func (l *Lab) Count(seed, folder string) (int, error) {
	u, ok := l.users[seed]
	if !ok {
		return 0, fmt.Errorf("lab has no seed %q", seed)
	}
	st, err := u.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return 0, err
	}
	return int(*st.NumMessages), nil
}

func secret() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// slogAdapter routes the servers' error logs to slog at debug level: clients
// that hang up mid-session are routine in tests.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.log.Debug("lab server", "msg", fmt.Sprintf(format, v...))
}
func (a slogAdapter) Println(v ...any) { a.log.Debug("lab server", "msg", fmt.Sprint(v...)) }
