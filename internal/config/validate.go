package config

import (
	"net/mail"
	"slices"
	"strings"

	"github.com/mailflow/mailflow/internal/schedule"
)

// resolveProviders gives each seed its provider: the one it names, else the
// catalog entry for its address's domain, else "generic"; then fills the IMAP
// settings the seed leaves out from the provider.
func (c *Config) resolveProviders() {
	for _, s := range c.Seeds {
		if s.Provider == nil {
			id := s.providerID
			if id == "" {
				id = c.providerFor(s.Address)
			}
			s.providerID, s.Provider = id, c.Providers[id]
			if s.Provider == nil {
				continue // Validate names the unknown id
			}
		}
		p := s.Provider
		if s.IMAPHost == "" {
			s.IMAPHost = p.IMAPHost
		}
		if s.IMAPSecurity == "" {
			s.IMAPSecurity = or2(p.IMAPSecurity, SecurityTLS)
		}
		if s.IMAPPort == 0 {
			s.IMAPPort = p.IMAPPort
			if s.IMAPPort == 0 || s.IMAPHost != p.IMAPHost {
				s.IMAPPort = map[Security]int{SecurityTLS: 993, SecuritySTARTTLS: 143, SecurityNone: 143}[s.IMAPSecurity]
			}
		}
	}
}

func or2(s, def Security) Security {
	if s == "" {
		return def
	}
	return s
}

func (c *Config) providerFor(addr string) string {
	domain := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
	for id, p := range c.Providers {
		for _, d := range p.Domains {
			if strings.EqualFold(d, domain) {
				return id
			}
		}
	}
	return "generic"
}

// expandSeedLists adds every seed of a check's seed lists to its seeds, once.
func (c *Config) expandSeedLists() {
	for _, ch := range c.Checks {
		for _, ln := range ch.SeedLists {
			if l, ok := c.SeedLists[ln]; ok {
				for _, s := range l.Seeds {
					if !slices.Contains(ch.Seeds, s) {
						ch.Seeds = append(ch.Seeds, s)
					}
				}
			}
		}
	}
}

// Validate reports every problem of a resolved configuration, loaded or built
// in code. Each names the file and line when known, the key, and the fix.
func (c *Config) Validate() []error {
	var errs []error
	at := func(file string) problems {
		return problems{file: or(file, or(c.File, "(config)")), lines: c.keyLines[file], errs: &errs}
	}
	pr := at(c.File)
	if c.Store.Path == "" {
		pr.add("store.path", "empty (name the SQLite file, e.g. \"mailflow.db\")")
	}
	if h := c.Housekeeping; h.Retention < 0 || h.PurgeAfter < 0 || h.Interval < 0 {
		pr.add("housekeeping", "retention, purge_after and interval must not be negative")
	}
	for name, p := range c.Paths {
		validatePath(pr, "paths."+name, p)
	}
	for name, s := range c.Seeds {
		validateSeed(at(s.Source), "seeds."+name, s)
	}
	if len(c.Checks) == 0 {
		pr.add("checks", "no check is declared (add a [checks.NAME] table with paths and seeds)")
	}
	for name, ch := range c.Checks {
		c.validateCheck(pr, "checks."+name, ch)
	}
	return errs
}

// validateEndpoint checks a host, port and security; prefix is "" for a path's
// keys and "imap_" for a seed's.
func validateEndpoint(pr problems, key, prefix, host string, port int, sec Security, hostHint string) {
	if host == "" {
		pr.add(key+"."+prefix+"host", "missing (%s)", hostHint)
	}
	if port < 1 || port > 65535 {
		pr.add(key+"."+prefix+"port", "%d is not a TCP port (1-65535)", port)
	}
	if sec != SecurityNone && sec != SecuritySTARTTLS && sec != SecurityTLS {
		pr.add(key+"."+prefix+"security", "%q is not one of none, starttls, tls", sec)
	}
}

func validatePath(pr problems, key string, p *Path) {
	validateEndpoint(pr, key, "", p.Host, p.Port, p.Security, "the SMTP server's name or address")
	if p.StartTLS != "auto" && p.StartTLS != "never" {
		pr.add(key+".starttls", "%q is not one of auto, never", p.StartTLS)
	}
	if p.AuthMechanism != "" && p.AuthMechanism != "plain" && p.AuthMechanism != "login" {
		pr.add(key+".auth_mechanism", "%q is not one of plain, login (or leave it out to choose from what the server offers)", p.AuthMechanism)
	}
	if _, err := mail.ParseAddress(p.MailFrom); err != nil || !strings.Contains(p.MailFrom, "@") {
		pr.add(key+".mail_from", "%q is not an address (the envelope sender, e.g. monitor@example.com)", p.MailFrom)
	}
	if p.From != p.MailFrom {
		if _, err := mail.ParseAddress(p.From); err != nil {
			pr.add(key+".from", "%q is not an address: %v", p.From, err)
		}
	}
	if p.Timeout <= 0 {
		pr.add(key+".timeout", "must be positive")
	}
}

func validateSeed(pr problems, key string, s *Seed) {
	if a, err := mail.ParseAddress(s.Address); err != nil || a.Name != "" {
		pr.add(key+".address", "%q is not a mailbox address (e.g. seed1@example.net)", s.Address)
	}
	if s.Provider == nil {
		pr.add(key+".provider", "%q is not in the provider catalog (see seeds/providers.toml, or add [providers.%s])", s.providerID, s.providerID)
	}
	validateEndpoint(pr, key, "imap_", s.IMAPHost, s.IMAPPort, s.IMAPSecurity, "and not given by the provider: set imap_host")
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
			pr.add(key+".seed_lists", "no seed list named %q (declare it under [seed_lists])", l)
		}
	}
	for _, s := range ch.Seeds {
		if c.Seeds[s] == nil {
			pr.add(key+".seeds", "no seed named %q (declared: %s)", s, names(c.Seeds))
		}
	}
	if len(ch.Seeds) == 0 {
		pr.add(key+".seeds", "the check has no seeds (name seeds or seed_lists)")
	}
	if ch.Deadline <= 0 {
		pr.add(key+".deadline", "must be positive")
	}
	if ch.Schedule != "" {
		if _, err := schedule.Parse(ch.Schedule); err != nil {
			pr.add(key+".schedule", "%v", err)
		}
	}
	if ch.Jitter < 0 {
		pr.add(key+".jitter", "must not be negative")
	}
	if ch.PollInterval <= 0 || ch.PollInterval >= ch.Deadline {
		pr.add(key+".poll_interval", "%s must be positive and shorter than the deadline (%s)", ch.PollInterval, ch.Deadline)
	}
}

func names[T any](m map[string]T) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(sorted(m), ", ")
}
