// Package config loads mailflow's TOML configuration, resolves seed lists, the
// provider catalog and secrets, and validates everything at once with errors that
// name the file, the line, the key and the fix. It does not dial anything.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Config is a loaded and resolved configuration. Maps are keyed by the name the
// user gave the table (`[paths.submission]` is Paths["submission"]).
type Config struct {
	// File is the path the configuration was loaded from ("" when built in code).
	File string

	Store        Store
	Housekeeping Housekeeping
	IMAP         IMAP
	Paths        map[string]*Path
	Seeds        map[string]*Seed
	SeedLists    map[string]*SeedList
	Providers    map[string]*Provider
	Checks       map[string]*Check
	Web          Web
	Notifiers    map[string]*Notifier
	OAuth        OAuth

	// keyLines holds the key lines of every file read, for problems found late.
	keyLines map[string]lines
}

// Store says where the SQLite database lives.
type Store struct {
	// Path of the database file, resolved against the config file's directory.
	Path string
}

// Housekeeping keeps seed boxes and the database from growing without end.
type Housekeeping struct {
	// Retention is how long probe rows are kept in the database (default 90 days).
	Retention time.Duration
	// PurgeAfter is the age after which this mailflow's probe messages still in a
	// seed's inbox or junk folder are deleted (default 24h; 0 disables).
	PurgeAfter time.Duration
	// Interval is how often the daemon does both (default 1h).
	Interval time.Duration
}

// IMAP holds the limits shared by every seed watcher.
type IMAP struct {
	// ConnectionsPerHost bounds the IMAP connections open at once to one server
	// host, over all seeds and checks (default 4). Providers cap concurrent
	// sessions; beyond the bound, watchers take turns.
	ConnectionsPerHost int
}

// Security is how a connection is protected: "none", "starttls" or "tls".
type Security string

// Connection security values.
const (
	SecurityNone     Security = "none"     // plain; SMTP still upgrades opportunistically unless StartTLS is "never"
	SecuritySTARTTLS Security = "starttls" // STARTTLS required: fail when not offered
	SecurityTLS      Security = "tls"      // implicit TLS from the first byte
)

// Path is one way a probe is submitted: an SMTP endpoint with its security,
// optional AUTH, envelope sender, HELO name and optional DKIM key.
type Path struct {
	Name string
	Line int // line of the [paths.NAME] table, 0 when unknown

	Host     string
	Port     int
	Security Security
	// StartTLS applies to Security "none": "auto" (default) upgrades when offered,
	// "never" stays plain.
	StartTLS string
	// TLSServerName overrides the name checked in the server certificate (default Host).
	TLSServerName string
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string

	Username string
	Password Secret
	// AuthMechanism is "" (choose PLAIN, then LOGIN, from what the server offers),
	// "plain" or "login".
	AuthMechanism string
	// AllowPlaintextAuth permits sending credentials over a connection without TLS.
	AllowPlaintextAuth bool
	OAuthLogin

	HELO     string
	MailFrom string // envelope sender (MAIL FROM)
	From     string // header From; defaults to MailFrom

	DKIM *DKIM // nil when the path does not sign

	// Timeout bounds each SMTP stage (connect, each command, DATA).
	Timeout time.Duration
}

// DKIM is a signing key for probes sent over a path.
type DKIM struct {
	Domain   string
	Selector string
	KeyFile  string
	// Key is the PEM private key read from KeyFile (or set in code); never printed.
	Key Secret
}

// Seed is one mailbox mailflow can read.
type Seed struct {
	Name string
	Line int
	// Source is the file the seed was declared in.
	Source string

	Address  string
	Provider *Provider

	IMAPHost     string
	IMAPPort     int
	IMAPSecurity Security
	CAFile       string
	// TLSServerName overrides the name checked in the server certificate.
	TLSServerName string

	Username string
	Password Secret
	// AllowPlaintextAuth permits LOGIN over a connection without TLS.
	AllowPlaintextAuth bool
	OAuthLogin

	// Inbox is the inbox folder name (default "INBOX").
	Inbox string
	// Junk, when set, names the junk folder and skips discovery.
	Junk string
	// Folders names further folders to watch (key folders): a probe found in
	// one is placed other:<folder>.
	Folders []string
	// Trust adds authserv-ids whose Authentication-Results are trusted for this seed.
	Trust []string
	// Cleanup deletes a probe message once its facts are stored (default true).
	Cleanup bool
	// NoIDLE polls the seed's folders every poll interval even where the
	// server offers IDLE (key idle = false), for servers whose IDLE misbehaves.
	NoIDLE bool
	// FastPoll, when not 0, polls the seed's folders this often for 10s after
	// each probe is sent, instead of idling (key fast_poll).
	FastPoll time.Duration

	providerID string // as written in the file, resolved by Load
}

// TrustedAuthservIDs returns the provider's authserv-ids followed by the seed's own.
func (s *Seed) TrustedAuthservIDs() []string {
	var ids []string
	if s.Provider != nil {
		ids = append(ids, s.Provider.AuthservIDs...)
	}
	return append(ids, s.Trust...)
}

// SeedList is a named set of seeds kept in a file under seeds/.
type SeedList struct {
	Name  string
	File  string
	Seeds []string // seed names, in file order

	unread bool // the file could not be read or decoded; Load reported why
}

// Provider is what mailflow knows about a mailbox provider.
type Provider struct {
	ID   string // key in the catalog, e.g. "gmail"
	Name string // display name, e.g. "Gmail"

	Domains      []string
	IMAPHost     string
	IMAPPort     int
	IMAPSecurity Security
	JunkFolders  []string
	AuthservIDs  []string
	// SpamFilters names the spam filters the provider runs, as verdict names
	// them ("microsoft", "rspamd"...): their header verdict is the provider's.
	SpamFilters []string
	// TrustTopmostWithoutID trusts the topmost Authentication-Results field
	// when it has no authserv-id, as Microsoft 365 writes it.
	TrustTopmostWithoutID bool
	// MaxConnections is the provider's cap on concurrent IMAP sessions per account (0: unknown).
	MaxConnections int
	Notes          string
	// OAuthProvider is the OAuth2 profile of the provider's seeds that log in
	// with auth = "oauth2" and name none (key oauth_provider).
	OAuthProvider string
	// IMAPID sends the IMAP ID command (RFC 2971) after login: some
	// providers refuse to SELECT for clients that do not name themselves.
	IMAPID bool

	// Source is the catalog file that last set the entry ("seeds/providers.toml"
	// for the built-in catalog, "" when built in code), and Line the line of its
	// [providers.ID] table there (0 when unknown).
	Source string
	Line   int
}

// Check is a test run as rounds: which paths, which seeds, how long to wait.
type Check struct {
	Name string
	Line int

	// Schedule is a cron expression, used by the daemon ("" when only run by hand).
	Schedule string
	// Jitter delays each scheduled round by up to this much.
	Jitter time.Duration
	Paths  []string
	// Seeds is the resolved set: the check's seeds plus every seed of its seed lists,
	// without repeats, in declaration order.
	Seeds     []string
	SeedLists []string
	// Deadline is how long after sending a probe may take to be found.
	Deadline time.Duration
	// PollInterval is how often folders are searched when IDLE is not available
	// (and how often an idling watcher re-checks).
	PollInterval time.Duration
	// Subject is the probe subject prefix (default "mailflow probe").
	Subject string
	// Body is extra text added to the probe's text and HTML parts (may be "").
	Body string
	// Alerts are the check's alert rules, in name order.
	Alerts []*Rule
}

// Secret is a credential or key. Its String and LogValue never reveal it.
type Secret struct {
	value  string
	source string // "env:NAME" or "file:PATH", for display
}

// NewSecret returns a Secret holding value, described by source (e.g. "env:PW").
func NewSecret(value, source string) Secret { return Secret{value: value, source: source} }

// Reveal returns the secret value. Call it only where the value goes on the wire.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.value != "" }

// Source describes where the secret came from, without its value.
func (s Secret) Source() string { return s.source }

// String masks the value.
func (s Secret) String() string {
	if s.value == "" {
		return "(none)"
	}
	if s.source != "" {
		return "****** (from " + s.source + ")"
	}
	return "******"
}

// LogValue masks the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString masks the value in %#v output.
func (s Secret) GoString() string { return s.String() }

// Format masks the value whatever the verb.
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }
