// Package lab is an in-process mail system on loopback, for tests and for
// `mailflow demo` only: it is not a mail server to deploy, and nothing but
// _test.go files and the demo command imports it.
//
// go-smtp listeners stand for the classic submission paths (a port-25-like
// relay with STARTTLS, a relay without it, submission with STARTTLS and AUTH,
// implicit-TLS submission with AUTH). They deliver into a go-imap v2 memory
// server whose seeds each have an INBOX and a Junk folder marked \Junk
// (RFC 6154). Delivery stamps a Received header and an Authentication-Results
// header (RFC 8601) from real checks — DKIM verified with go-msgauth against the
// key the lab publishes, SPF and DMARC evaluated against the lab's own records —
// and files spam into Junk.
package lab

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"
)

// Rule is what the lab does with mail for a seed.
type Rule string

// The rules a seed can have.
const (
	RuleDeliver Rule = "deliver" // INBOX, unless a global spam rule files it into Junk
	RuleJunk    Rule = "junk"    // this seed's filter files every message into Junk
	RuleReject  Rule = "reject"  // RCPT TO answered 550 5.1.1
	RuleDrop    Rule = "drop"    // accepted with 250, then silently discarded (never stored)
	RuleArchive Rule = "archive" // this seed's rule files every message into its folder "Archive"
)

// SeedSpec asks Start for a seed: its name (the local part of its address) and
// its rule. An empty Rule means RuleDeliver.
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
	// GmailCaps adds Gmail's X-GM-EXT-1 to the IMAP capabilities without
	// implementing it, like a server whose extension misbehaves: clients that
	// ask about tabs get BAD and must carry on.
	GmailCaps bool
	// OAuth, when set, makes SMTP AUTH and IMAP AUTHENTICATE take OAuth2
	// bearer tokens too (see OAuth).
	OAuth *OAuth
	// CountIMAPID counts the IMAP ID commands clients send (see IMAPIDs).
	// The lab's server answers them BAD, as one without the extension does.
	CountIMAPID bool
}

// DefaultSeeds returns alice (deliver), bob (junk), carol (reject) and dave
// (drop).
func DefaultSeeds() []SeedSpec {
	return []SeedSpec{{"alice", RuleDeliver}, {"bob", RuleJunk}, {"carol", RuleReject}, {"dave", RuleDrop}}
}

// Lab is a running lab. Its exported fields are set by Start and read-only.
type Lab struct {
	Hostname     string // "lab.mailflow.test": authserv-id of its Authentication-Results and the "by" of its Received
	SeedDomain   string // "seeds.mailflow.test": seed addresses are name@SeedDomain
	SenderDomain string // "mailflow.test": the domain probes are sent from, with SPF, DKIM and DMARC records

	Relay        string // host:port — plain SMTP offering STARTTLS, no AUTH (like port 25); accepts only lab recipients
	PlainRelay   string // host:port — plain SMTP that never offers STARTTLS, no AUTH
	Submission   string // host:port — STARTTLS required before AUTH and MAIL, AUTH required (like 587)
	SMTPS        string // host:port — implicit TLS from the first byte, AUTH required (like 465)
	IMAP         string // host:port — IMAP over implicit TLS
	IMAPStartTLS string // host:port — plain IMAP offering STARTTLS; LOGIN is refused before it

	CAFile string // path of the PEM CA certificate that signed the lab's server certificate
	CAPEM  []byte

	Username, Password string // SMTP AUTH credentials for Submission and SMTPS (random password)

	DKIMSelector string // "lab"
	DKIMKeyPEM   []byte // PKCS#8 RSA 2048 key whose public key is published at DKIMSelector._domainkey.SenderDomain

	Seeds []Seed

	log          *slog.Logger
	opts         Options
	records      records
	mu           sync.Mutex
	deliveries   map[string]int      // by probe token: copies accepted for delivery, dropped ones included
	accounts     map[string]*account // by seed name
	byUser       map[string]*account // by IMAP username
	dir          string
	servers      []*server
	imapSessions gauge
	auths        authLog
	ids          idCounter
	once         sync.Once
	closeErr     error
}

// server is one listener and the server behind it.
type server struct {
	name   string
	ln     *listener
	served chan struct{} // closed when Serve returns
	stop   func() error  // run once every connection is gone
}

// Start starts every listener on 127.0.0.1 with a free port. It generates a CA
// and a server certificate for "localhost", 127.0.0.1 and ::1, writes the CA to
// a temporary directory that Close removes, and generates the DKIM key.
func Start(opts Options) (*Lab, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	specs := opts.Seeds
	if specs == nil {
		specs = DefaultSeeds()
	}
	l := &Lab{
		Hostname: "lab.mailflow.test", SeedDomain: "seeds.mailflow.test", SenderDomain: "mailflow.test",
		Username: "monitor@mailflow.test", Password: secret(), DKIMSelector: "lab",
		log: log, accounts: map[string]*account{}, byUser: map[string]*account{},
	}
	l.opts = opts
	if err := l.start(specs); err != nil {
		l.Close()
		return nil, fmt.Errorf("start lab: %w", err)
	}
	log.Debug("lab started", "relay", l.Relay, "plain_relay", l.PlainRelay, "submission", l.Submission,
		"smtps", l.SMTPS, "imap", l.IMAP, "imap_starttls", l.IMAPStartTLS)
	return l, nil
}

func (l *Lab) start(specs []SeedSpec) error {
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
	key, err := dkimKey()
	if err != nil {
		return fmt.Errorf("dkim key: %w", err)
	}
	if l.DKIMKeyPEM, err = keyPEM(key); err != nil {
		return err
	}
	if l.records, err = publish(l.SenderDomain, l.DKIMSelector, key); err != nil {
		return err
	}
	if err := l.addSeeds(specs); err != nil {
		return err
	}
	tlsConfig := serverTLS(cert)
	for _, s := range []struct {
		addr *string
		kind listenerKind
	}{{&l.Relay, kindRelay}, {&l.PlainRelay, kindPlainRelay}, {&l.Submission, kindSubmission}, {&l.SMTPS, kindSMTPS}} {
		if *s.addr, err = l.serveSMTP(s.kind, tlsConfig); err != nil {
			return err
		}
	}
	if l.IMAP, err = l.serveIMAP(tlsConfig, true); err != nil {
		return err
	}
	l.IMAPStartTLS, err = l.serveIMAP(tlsConfig, false)
	return err
}

func (l *Lab) addSeeds(specs []SeedSpec) error {
	for _, sp := range specs {
		if sp.Name == "" || strings.ContainsAny(sp.Name, "@ <>\"") || l.accounts[strings.ToLower(sp.Name)] != nil {
			return fmt.Errorf("seed name %q is empty, repeated or not a plain local part", sp.Name)
		}
		rule := sp.Rule
		switch rule {
		case "":
			rule = RuleDeliver
		case RuleDeliver, RuleJunk, RuleReject, RuleDrop, RuleArchive:
		default:
			return fmt.Errorf("seed %s: rule %q is not one of deliver, junk, reject, drop, archive", sp.Name, sp.Rule)
		}
		name := strings.ToLower(sp.Name)
		s := Seed{Name: name, Address: name + "@" + l.SeedDomain, Password: secret(), Rule: rule}
		s.Username = s.Address
		a, err := newAccount(s)
		if err != nil {
			return fmt.Errorf("seed %s: %w", s.Name, err)
		}
		l.accounts[s.Name], l.byUser[s.Username] = a, a
		l.Seeds = append(l.Seeds, s)
	}
	return nil
}

// serve runs serveFn, a server's accept loop on ln, until Close; Close runs
// stop once the server's connections are gone.
func (l *Lab) serve(name string, ln *listener, serveFn func() error, stop func() error) {
	s := &server{name: name, ln: ln, served: make(chan struct{}), stop: stop}
	l.servers = append(l.servers, s)
	go func() {
		defer close(s.served)
		if err := serveFn(); err != nil && !errors.Is(err, net.ErrClosed) {
			l.log.Debug("lab server stopped", "server", name, "err", err)
		}
	}()
}

// Close stops every listener, ends every connection, waits for the goroutines
// serving them and removes the CA file. It is safe to call more than once; later
// calls return what the first returned.
func (l *Lab) Close() error {
	l.once.Do(func() {
		var errs []error
		for _, s := range l.servers {
			if err := s.ln.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s listener: %w", s.name, err))
			}
		}
		for _, s := range l.servers {
			<-s.served
			if err := s.ln.wait(10 * time.Second); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			}
			if err := s.stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", s.name, err))
			}
		}
		if l.dir != "" {
			errs = append(errs, os.RemoveAll(l.dir))
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// CutIMAP ends every open IMAP connection, as a dropped network or a server
// restart would, and returns how many it cut. The listeners stay open.
func (l *Lab) CutIMAP() int {
	n := 0
	for _, s := range l.servers {
		if strings.HasPrefix(s.name, "imap") {
			n += s.ln.cut()
		}
	}
	return n
}

// SMTPConnections returns how many SMTP connections the lab has accepted on
// all its SMTP listeners.
func (l *Lab) SMTPConnections() int {
	n := 0
	for _, s := range l.servers {
		if !strings.HasPrefix(s.name, "imap") {
			n += s.ln.acceptedCount()
		}
	}
	return n
}

// IMAPConnections returns how many IMAP sessions are open now, and the most
// that were open at once since Start. A session counts from its greeting until
// the server ends it, before its connection is closed.
func (l *Lab) IMAPConnections() (open, peak int) { return l.imapSessions.read() }

// Seed returns the seed called name.
func (l *Lab) Seed(name string) (Seed, bool) {
	if a, ok := l.accounts[strings.ToLower(name)]; ok {
		return a.seed, true
	}
	return Seed{}, false
}

// Count returns how many messages are currently in a seed's folder ("INBOX" or
// "Junk").
func (l *Lab) Count(seed, folder string) (int, error) {
	a, ok := l.accounts[strings.ToLower(seed)]
	if !ok {
		return 0, fmt.Errorf("lab has no seed %q", seed)
	}
	st, err := a.user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		return 0, fmt.Errorf("seed %s: status %q: %w", seed, folder, err)
	}
	return int(*st.NumMessages), nil
}

// Deliveries returns how many copies of messages carrying a probe token the
// lab accepted for delivery, dropped ones included: a probe sent twice to one
// seed shows 2.
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

// secret returns a random password.
func secret() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// slogAdapter routes the servers' error logs to slog at debug level: clients
// that hang up mid-session are routine in tests.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) {
	a.log.Debug("lab server", "detail", fmt.Sprintf(format, v...))
}

func (a slogAdapter) Println(v ...any) {
	a.log.Debug("lab server", "detail", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// injectTimeout bounds Inject's whole SMTP exchange with the lab's own relay.
const injectTimeout = 10 * time.Second

// Inject delivers msg to a seed over the plain relay, as another system's mail
// would arrive: through SMTP and the lab's checks, not straight into IMAP.
func (l *Lab) Inject(seed string, msg []byte) error {
	s, ok := l.Seed(seed)
	if !ok {
		return fmt.Errorf("lab has no seed %q", seed)
	}
	conn, err := net.DialTimeout("tcp", l.PlainRelay, injectTimeout)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(injectTimeout)) // the whole exchange
	c := smtp.NewClient(conn)
	defer c.Close()
	return c.SendMail("monitor@"+l.SenderDomain, []string{s.Address}, bytes.NewReader(msg))
}

// dkimKey is the RSA key every lab of a process signs with: generating one
// takes about 60 ms, and the tests start dozens of labs. Labs are separate
// worlds (each answers its own DNS), so sharing the key crosses nothing.
var dkimKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
