package config

import (
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/schedule"
)

// Validate reports every problem of a resolved configuration, loaded or built
// in code. Each names the file and line when known, the key, what is wrong and
// the fix. It reads no file and no environment variable: Load does that.
func (c *Config) Validate() []error {
	var errs []error
	at := func(file string) problems {
		return problems{file: file, lines: c.keyLines[file], errs: &errs}
	}
	pr := at(c.File)
	if c.Store.Path == "" {
		pr.add("store.path", "empty (name the SQLite file, e.g. \"mailflow.db\")")
	}
	h := c.Housekeeping
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"retention", h.Retention}, {"purge_after", h.PurgeAfter}, {"interval", h.Interval}} {
		if d.d < 0 {
			pr.add("housekeeping."+d.key, "must not be negative")
		}
	}
	if c.IMAP.ConnectionsPerHost < 0 { // 0 in code means the default
		pr.add("imap.connections_per_host", "must be at least 1 (default %d)", DefaultConnsPerHost)
	}
	for _, name := range sorted(c.Paths) {
		validatePath(pr, "paths."+name, c.Paths[name])
		c.validateLogin(pr, "paths."+name, &c.Paths[name].OAuthLogin, c.Paths[name].Username)
	}
	for _, name := range sorted(c.Seeds) {
		s := c.Seeds[name]
		validateSeed(at(s.Source), "seeds."+name, s)
		c.validateLogin(at(s.Source), "seeds."+name, &s.OAuthLogin, s.Username)
	}
	c.validateProviders(at)
	c.validateOAuth(at)
	if len(c.Checks) == 0 {
		pr.add("checks", "no check is declared (add a [checks.NAME] table with paths and seeds)")
	}
	for _, name := range sorted(c.Checks) {
		c.validateCheck(pr, "checks."+name, c.Checks[name])
	}
	validateWeb(pr, c.Web)
	for _, name := range sorted(c.Notifiers) {
		c.validateNotifier(pr, "notifiers."+name, c.Notifiers[name])
	}
	return errs
}

// validateEndpoint checks a host, port and security; prefix is "" for a path's
// keys and "imap_" for a seed's. An empty hostHint skips the host.
func validateEndpoint(pr problems, key, prefix, host string, port int, sec Security, hostHint string) {
	if host == "" && hostHint != "" {
		pr.add(key+"."+prefix+"host", "missing (%s)", hostHint)
	}
	valid := sec == SecurityNone || sec == SecuritySTARTTLS || sec == SecurityTLS
	if !valid {
		pr.add(key+"."+prefix+"security", "%q is not one of none, starttls, tls", sec)
	}
	// With no valid security there is no default port to blame.
	if (port < 1 || port > 65535) && (valid || port != 0) {
		pr.add(key+"."+prefix+"port", "%d is not a TCP port (1-65535)", port)
	}
}

func validatePath(pr problems, key string, p *Path) {
	validateEndpoint(pr, key, "", p.Host, p.Port, p.Security, "the SMTP server's name or address")
	switch {
	case p.StartTLS != "auto" && p.StartTLS != "never":
		pr.add(key+".starttls", "%q is not one of auto, never", p.StartTLS)
	case p.Security == SecurityNone && p.StartTLS == "never" && p.Username != "" && !p.AllowPlaintextAuth:
		pr.add(key+".allow_plaintext_auth", "the password would be sent without TLS, which mailflow refuses (use security = \"starttls\" or \"tls\", or set allow_plaintext_auth = true for a lab)")
	}
	switch p.AuthMechanism {
	case "", "plain", "login":
		if p.AuthMechanism != "" && p.UsesOAuth() {
			pr.add(key+".auth_mechanism", "%q sends a password; with auth = \"oauth2\" use oauthbearer or xoauth2 (or leave it out to choose from what the server offers)", p.AuthMechanism)
		}
	case "oauthbearer", "xoauth2":
		if !p.UsesOAuth() {
			pr.add(key+".auth_mechanism", "%q needs auth = \"oauth2\" (add it, or use plain or login)", p.AuthMechanism)
		}
	default:
		pr.add(key+".auth_mechanism", "%q is not one of plain, login, oauthbearer, xoauth2 (or leave it out to choose from what the server offers)", p.AuthMechanism)
	}
	if p.Username == "" && p.AuthMechanism != "" {
		pr.add(key+".auth_mechanism", "set without a username (add username, or drop auth_mechanism for a path without AUTH)")
	}
	if p.Username != "" && !p.Password.IsSet() && !p.UsesOAuth() {
		pr.addCovered(key, key+".password", "username %q has no password (set password_env or password_file)", p.Username)
	}
	if p.HELO == "" {
		pr.add(key+".helo", "empty and this host has no name (set helo to a name that resolves to this host)")
	}
	if !isMailbox(p.MailFrom) {
		pr.add(key+".mail_from", "%q is not an address (the envelope sender, e.g. monitor@example.com)", p.MailFrom)
	}
	if p.From != "" && p.From != p.MailFrom {
		if _, err := mail.ParseAddress(p.From); err != nil {
			pr.add(key+".from", "%q is not an address (e.g. \"Mail Monitor <monitor@example.com>\")", p.From)
		}
	}
	if p.Timeout <= 0 {
		pr.add(key+".timeout", "must be positive (e.g. \"30s\")")
	}
	if d := p.DKIM; d != nil {
		validateDKIM(pr, key+".dkim", d)
	}
}

func validateDKIM(pr problems, key string, d *DKIM) {
	if d.Domain == "" {
		pr.add(key+".domain", "missing and the path has no From domain (set domain, the d= of the signature)")
	}
	if d.Selector == "" {
		pr.add(key+".selector", "missing (the selector whose TXT record holds the public key)")
	}
	switch {
	case !d.Key.IsSet() && d.KeyFile == "":
		pr.add(key+".key_file", "missing (a PEM RSA or Ed25519 private key, PKCS#1 or PKCS#8)")
	case !d.Key.IsSet():
		pr.add(key+".key_file", "%s was not read (Load reads key_file)", d.KeyFile)
	default:
		if err := checkDKIMKey(d.Key.Reveal()); err != nil {
			pr.add(key+".key_file", "%s: %v (want a PEM RSA or Ed25519 private key, PKCS#1 or PKCS#8, e.g. from openssl genpkey -algorithm ed25519)", d.KeyFile, err)
		}
	}
}

func validateSeed(pr problems, key string, s *Seed) {
	if !isMailbox(s.Address) {
		pr.add(key+".address", "%q is not a mailbox address (e.g. seed1@example.net)", s.Address)
	}
	if s.Provider == nil {
		pr.add(key+".provider", "%q is not in the provider catalog (use an id of seeds/providers.toml, or add [providers.%s])", s.providerID, s.providerID)
	}
	hint := "and the provider gives none: set imap_host"
	if s.Provider == nil {
		hint = "" // the unknown provider is the problem
	}
	validateEndpoint(pr, key, "imap_", s.IMAPHost, s.IMAPPort, s.IMAPSecurity, hint)
	if s.FastPoll < 0 || s.FastPoll > 0 && s.FastPoll < 10*time.Millisecond {
		pr.add(key+".fast_poll", "%s is too short (0 to turn it off, else at least 10ms)", s.FastPoll)
	}
	if s.IMAPSecurity == SecurityNone && !s.AllowPlaintextAuth {
		pr.add(key+".imap_security", "\"none\" would send the password without TLS, which mailflow refuses (use tls or starttls, or set allow_plaintext_auth = true for a lab)")
	}
	if s.Username == "" {
		pr.add(key+".username", "empty (leave it out to log in with the address)")
	}
	if !s.Password.IsSet() && !s.UsesOAuth() {
		pr.addCovered(key, key+".password", "no password (set password_env or password_file)")
	}
	if s.Inbox == "" {
		pr.add(key+".inbox", "empty (leave it out for INBOX)")
	}
	for _, id := range s.Trust {
		if id == "" || strings.ContainsAny(id, " ;\t") {
			pr.add(key+".trust", "%q is not an authserv-id (the first word of an Authentication-Results header, e.g. mx.example.net)", id)
		}
	}
}

func (c *Config) validateCheck(pr problems, key string, ch *Check) {
	if len(ch.Paths) == 0 {
		pr.add(key+".paths", "empty (name at least one [paths.NAME])")
	}
	for _, p := range ch.Paths {
		if c.Paths[p] == nil {
			pr.add(key+".paths", "no path named %q (declared: %s)", p, names(c.Paths))
		}
	}
	for _, l := range ch.SeedLists {
		if c.SeedLists[l] == nil {
			pr.add(key+".seed_lists", "no seed list named %q (declared under [seed_lists]: %s)", l, names(c.SeedLists))
		}
	}
	for _, s := range ch.Seeds {
		if c.Seeds[s] == nil {
			pr.add(key+".seeds", "no seed named %q (declared: %s)", s, names(c.Seeds))
		}
	}
	// An unknown or unread seed list is reported; its seeds are not known to be none.
	if len(ch.Seeds) == 0 && !slices.ContainsFunc(ch.SeedLists, func(l string) bool { return c.SeedLists[l] == nil || c.SeedLists[l].unread }) {
		pr.add(key+".seeds", "the check has no seeds (name seeds, or seed_lists that hold some)")
	}
	if ch.Deadline <= 0 {
		pr.add(key+".deadline", "must be positive (e.g. \"5m\")")
	}
	if ch.Schedule != "" {
		if _, err := schedule.Parse(ch.Schedule); err != nil {
			pr.add(key+".schedule", "%v", err)
		}
	}
	if ch.Jitter < 0 {
		pr.add(key+".jitter", "must not be negative")
	}
	if ch.PollInterval <= 0 || ch.Deadline > 0 && ch.PollInterval >= ch.Deadline {
		pr.add(key+".poll_interval", "%s must be positive and shorter than the deadline (%s)", human(ch.PollInterval), human(ch.Deadline))
	}
	for _, r := range ch.Alerts {
		c.validateRule(pr, key+".alerts."+r.Name, r)
	}
}

// isMailbox reports whether s is a bare address like user@example.com.
func isMailbox(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s, "@")
}

func names[T any](m map[string]T) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(sorted(m), ", ")
}
