package config

import (
	"slices"
	"strings"

	"github.com/mailflow/mailflow/seeds"
)

// BuiltinCatalog is the name problems give the provider catalog built into the
// binary from seeds/providers.toml.
const BuiltinCatalog = "seeds/providers.toml"

// GenericProvider is the catalog id of a seed whose address's domain no
// provider claims.
const GenericProvider = "generic"

// Catalog decodes a provider catalog: [providers.ID] tables as in
// seeds/providers.toml. file names the document in problems.
func Catalog(file string, data []byte) (map[string]*Provider, error) {
	var errs []error
	out := map[string]*Provider{}
	mergeCatalog(out, nil, file, data, &errs)
	if len(errs) > 0 {
		return nil, Errors(errs)
	}
	return out, nil
}

// loadCatalog builds the providers of a config: the built-in catalog, then
// providers_file, then the config's own [providers.ID] tables. A later entry
// for an id sets only the keys it names and keeps the others.
func (c *Config) loadCatalog(raw rawFile, dir string, pr problems, errs *[]error) {
	c.Providers = map[string]*Provider{}
	c.OAuth.Profiles = map[string]*OAuthProfile{}
	c.keyLines[BuiltinCatalog] = mergeCatalog(c.Providers, c.OAuth.Profiles, BuiltinCatalog, seeds.Providers, errs)
	if raw.ProvidersFile != "" {
		f := inDir(dir, raw.ProvidersFile)
		if data, err := readSmall(f); err != nil {
			pr.add("providers_file", "%v (fix the path; it is relative to %s)", err, pr.file)
		} else {
			c.keyLines[f] = mergeCatalog(c.Providers, c.OAuth.Profiles, f, data, errs)
		}
	}
	for _, id := range sorted(raw.Providers) {
		mergeProvider(c.Providers, id, raw.Providers[id], pr.file, pr.lines.line("providers."+id))
	}
}

// mergeCatalog decodes one catalog file into out, and its OAuth2 profiles
// into profiles when it is not nil, and returns its key lines.
func mergeCatalog(out map[string]*Provider, profiles map[string]*OAuthProfile, file string, data []byte, errs *[]error) lines {
	l := keyLines(data)
	cat, perrs, _ := decode[rawCatalog](file, data)
	*errs = append(*errs, perrs...)
	for _, id := range sorted(cat.Providers) {
		mergeProvider(out, id, cat.Providers[id], file, l.line("providers."+id))
	}
	if profiles != nil {
		mergeProfiles(profiles, cat.OAuth, problems{file: file, lines: l, errs: errs})
	}
	return l
}

// mergeProvider sets the keys rp names on the provider id, creating it.
func mergeProvider(out map[string]*Provider, id string, rp *rawProvider, file string, line int) {
	p := out[id]
	if p == nil {
		p = &Provider{ID: id, Name: id}
		out[id] = p
	}
	if rp == nil {
		rp = &rawProvider{}
	}
	p.Source, p.Line = file, line
	set(&p.Name, rp.Name)
	set(&p.IMAPHost, rp.IMAPHost)
	set(&p.IMAPPort, rp.IMAPPort)
	set(&p.IMAPSecurity, Security(rp.IMAPSecurity))
	set(&p.MaxConnections, rp.MaxConnections)
	set(&p.Notes, rp.Notes)
	set(&p.OAuthProvider, rp.OAuthProvider)
	if rp.IMAPID != nil {
		p.IMAPID = *rp.IMAPID
	}
	// An empty array is a value: `authserv_ids = []` clears the built-in ids.
	if rp.Domains != nil {
		p.Domains = rp.Domains
	}
	if rp.JunkFolders != nil {
		p.JunkFolders = rp.JunkFolders
	}
	if rp.AuthservIDs != nil {
		p.AuthservIDs = rp.AuthservIDs
	}
	if rp.SpamFilters != nil {
		p.SpamFilters = rp.SpamFilters
	}
	if rp.TrustTopmostWithoutID != nil {
		p.TrustTopmostWithoutID = *rp.TrustTopmostWithoutID
	}
}

func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// resolveProviders gives each seed its provider: the one it names, else the
// catalog entry for its address's domain, else "generic"; then fills the IMAP
// settings the seed leaves out from the provider.
func (c *Config) resolveProviders() {
	for _, s := range c.Seeds {
		if s.Provider == nil {
			if s.providerID == "" {
				s.providerID = c.providerFor(s.Address)
			}
			s.Provider = c.Providers[s.providerID] // nil: Validate names the unknown id
		}
		p := s.Provider
		if p == nil {
			p = &Provider{}
		}
		if s.IMAPHost == "" {
			s.IMAPHost = p.IMAPHost
		}
		if s.IMAPSecurity == "" {
			// A provider's invalid security is reported on the provider, not on
			// every seed that would inherit it.
			s.IMAPSecurity = SecurityTLS
			if _, ok := imapPort[p.IMAPSecurity]; ok {
				s.IMAPSecurity = p.IMAPSecurity
			}
		}
		if s.IMAPPort == 0 {
			s.IMAPPort = p.IMAPPort
			// The provider's port goes with its host and security, not with others.
			if s.IMAPPort == 0 || s.IMAPHost != p.IMAPHost || s.IMAPSecurity != or(p.IMAPSecurity, SecurityTLS) {
				s.IMAPPort = imapPort[s.IMAPSecurity]
			}
		}
	}
}

// imapPort is the IANA port of each IMAP security (RFC 8314 section 7.3).
var imapPort = map[Security]int{SecurityTLS: 993, SecuritySTARTTLS: 143, SecurityNone: 143}

// providerFor returns the id of the provider whose domains hold the address's
// domain, or "generic".
func (c *Config) providerFor(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return GenericProvider
	}
	domain := strings.TrimSuffix(addr[i+1:], ">")
	for _, id := range sorted(c.Providers) {
		if slices.ContainsFunc(c.Providers[id].Domains, func(d string) bool { return strings.EqualFold(d, domain) }) {
			return id
		}
	}
	return GenericProvider
}

// validateProviders checks every catalog entry, used or not, so that a broken
// providers_file is found before a seed needs it.
func (c *Config) validateProviders(at func(file string) problems) {
	claimed := map[string]string{} // domain → provider id
	for _, id := range sorted(c.Providers) {
		p := c.Providers[id]
		pr, key := at(p.Source), "providers."+id
		switch p.IMAPSecurity {
		case "", SecurityNone, SecuritySTARTTLS, SecurityTLS:
		default:
			pr.add(key+".imap_security", "%q is not one of tls, starttls, none", p.IMAPSecurity)
		}
		if p.IMAPPort < 0 || p.IMAPPort > 65535 {
			pr.add(key+".imap_port", "%d is not a TCP port (1-65535, or leave it out for the default of imap_security)", p.IMAPPort)
		}
		if p.MaxConnections < 0 {
			pr.add(key+".max_connections", "%d is negative (leave it out when unknown)", p.MaxConnections)
		}
		for _, d := range p.Domains {
			d = strings.ToLower(d)
			if other, dup := claimed[d]; dup {
				pr.add(key+".domains", "%q is also a domain of provider %q (keep it in one)", d, other)
			}
			claimed[d] = id
		}
	}
}
