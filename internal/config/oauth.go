package config

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Seeds and paths log in with a password (auth = "password", the default) or
// with an OAuth2 access token (auth = "oauth2"), obtained from a provider
// profile: the built-in [oauth.google] and [oauth.microsoft] of
// seeds/providers.toml, or an [oauth.ID] table of providers_file or of the
// config, which also gives the client id and secret. Refresh tokens live in
// the token file ([oauth] token_file), never in the config.

// Auth values of a seed or a path.
const (
	AuthPassword = "password"
	AuthOAuth2   = "oauth2"
)

// DefaultTokenFile is the token file's name, beside the database unless
// [oauth] token_file says otherwise.
const DefaultTokenFile = "mailflow-tokens.json"

// OAuth is the OAuth2 part of a configuration.
type OAuth struct {
	// TokenFile holds every account's refresh token (mode 0600).
	TokenFile string
	// Profiles are the OAuth2 providers by id, built-in ones included.
	Profiles map[string]*OAuthProfile
}

// OAuthProfile is an OAuth2 provider: its endpoints, the scopes mail access
// needs, and the client registered with it.
type OAuthProfile struct {
	ID   string // "google", "microsoft" or a custom id
	Name string

	AuthURL   string // authorization endpoint
	TokenURL  string // token endpoint
	DeviceURL string // device authorization endpoint (RFC 8628); "" when there is none
	Scopes    []string
	// AuthParams are extra parameters of the authorization request.
	AuthParams map[string]string
	// Tenant replaces "{tenant}" in the endpoints (Microsoft: "common",
	// "organizations", "consumers" or a directory id).
	Tenant string

	ClientID     string
	ClientSecret Secret // unset for public clients

	// Source is the file that last set the profile, Line its table's line there.
	Source string
	Line   int
}

// OAuthLogin says how a seed or a path logs in; it is part of both.
type OAuthLogin struct {
	// Auth is AuthPassword or AuthOAuth2.
	Auth string
	// OAuthProvider is the id of the OAuth2 profile: the seed's or path's
	// oauth_provider, else (for a seed) its mail provider's.
	OAuthProvider string
	// OAuth is the resolved profile, with the seed's or path's own client
	// id and secret applied; nil unless Auth is AuthOAuth2 and the profile
	// exists.
	OAuth *OAuthProfile

	raw          rawLogin
	clientSecret Secret
	password     string // the password key named too ("password_env" or "password_file"), if any
}

// UsesOAuth reports whether the seed or path logs in with an OAuth2 token.
func (l *OAuthLogin) UsesOAuth() bool { return l.Auth == AuthOAuth2 }

// rawLogin are the login keys of a [seeds.NAME] or [paths.NAME] table.
type rawLogin struct {
	Auth                  string `toml:"auth"`
	OAuthProvider         string `toml:"oauth_provider"`
	OAuthClientID         string `toml:"oauth_client_id"`
	OAuthClientSecretEnv  string `toml:"oauth_client_secret_env"`
	OAuthClientSecretFile string `toml:"oauth_client_secret_file"`
}

// rawOAuthProfile is an [oauth.ID] table.
type rawOAuthProfile struct {
	Name             string            `toml:"name"`
	AuthURL          string            `toml:"authorization_url"`
	TokenURL         string            `toml:"token_url"`
	DeviceURL        string            `toml:"device_authorization_url"`
	Scopes           []string          `toml:"scopes"`
	AuthParams       map[string]string `toml:"auth_params"`
	Tenant           string            `toml:"tenant"`
	ClientID         string            `toml:"client_id"`
	ClientSecret     string            `toml:"client_secret"` // refused: secrets never live in the file
	ClientSecretEnv  string            `toml:"client_secret_env"`
	ClientSecretFile string            `toml:"client_secret_file"`
}

// newLogin reads the login keys of a seed or path table. password says
// whether the table names a password.
// passwordKey names the password key a table sets, "" when none.
func passwordKey(env, file string) string {
	switch {
	case env != "":
		return "password_env"
	case file != "":
		return "password_file"
	}
	return ""
}

func newLogin(pr problems, key string, rl rawLogin, password string, dir string) OAuthLogin {
	l := OAuthLogin{Auth: or(strings.ToLower(rl.Auth), AuthPassword), OAuthProvider: rl.OAuthProvider, raw: rl, password: password}
	l.clientSecret = secret(pr, key, secretKeys{env: rl.OAuthClientSecretEnv, file: rl.OAuthClientSecretFile, name: "oauth_client_secret"}, dir)
	return l
}

// mergeOAuthProfile sets the keys rp names on the profile id, creating it.
// Secrets are read by the caller, which knows the file's directory.
func mergeOAuthProfile(out map[string]*OAuthProfile, id string, rp *rawOAuthProfile, file string, line int) *OAuthProfile {
	p := out[id]
	if p == nil {
		p = &OAuthProfile{ID: id, Name: id}
		out[id] = p
	}
	if rp == nil {
		rp = &rawOAuthProfile{}
	}
	p.Source, p.Line = file, line
	set(&p.Name, rp.Name)
	set(&p.AuthURL, rp.AuthURL)
	set(&p.TokenURL, rp.TokenURL)
	set(&p.DeviceURL, rp.DeviceURL)
	set(&p.Tenant, rp.Tenant)
	set(&p.ClientID, rp.ClientID)
	if rp.Scopes != nil {
		p.Scopes = rp.Scopes
	}
	if rp.AuthParams != nil {
		p.AuthParams = rp.AuthParams
	}
	return p
}

// loadOAuth reads the config's [oauth] table: token_file and [oauth.ID]
// profiles, which add to or change the catalog's. It runs after the catalog
// and the store path are known.
func (c *Config) loadOAuth(raw map[string]any, dir string, pr problems, errs *[]error) {
	c.OAuth.TokenFile = filepath.Join(filepath.Dir(c.Store.Path), DefaultTokenFile)
	for _, k := range sorted(raw) {
		key := "oauth." + k
		switch v := raw[k].(type) {
		case string:
			if k != "token_file" {
				pr.add(key, "unknown key (the [oauth] table takes token_file and [oauth.ID] profile tables)")
				continue
			}
			if v != "" { // "" keeps the default, as the example writes it
				c.OAuth.TokenFile = inDir(dir, v)
			}
		case map[string]any:
			c.loadProfile(k, v, dir, pr, errs)
		default:
			if k == "token_file" {
				what := "a table"
				switch v.(type) {
				case int64, float64:
					what = "a number"
				case bool:
					what = "a boolean"
				case []any:
					what = "an array"
				}
				pr.add(key, "%s where a string is expected (write token_file = \"/var/lib/mailflow/mailflow-tokens.json\", or leave it out for one beside the database)", what)
				continue
			}
			pr.add(key, "not a table (write a provider profile as [oauth.%s] with token_url, scopes and client_id)", k)
		}
	}
}

// loadProfile decodes one [oauth.ID] table of the config strictly, as decode
// does a whole file, and merges it.
func (c *Config) loadProfile(id string, table map[string]any, dir string, pr problems, errs *[]error) {
	key := "oauth." + id
	data, err := toml.Marshal(table)
	if err != nil {
		pr.add(key, "%v", err)
		return
	}
	rp, perrs, _ := decode[rawOAuthProfile](pr.file, data)
	for _, e := range perrs {
		// The problem is about the re-encoded table: move it to the file's own lines.
		if p, ok := e.(*Problem); ok && p.Key != "" {
			p.Key = key + "." + p.Key
			p.Line, p.Column = pr.lines.line(p.Key), 0
		}
		*errs = append(*errs, e)
	}
	applyProfile(c.OAuth.Profiles, id, &rp, pr, dir)
}

// mergeProfiles merges the [oauth.ID] tables of a catalog file.
func mergeProfiles(out map[string]*OAuthProfile, raw map[string]*rawOAuthProfile, pr problems) {
	for _, id := range sorted(raw) {
		applyProfile(out, id, raw[id], pr, filepath.Dir(pr.file))
	}
}

// applyProfile merges one [oauth.ID] table of the file pr is about and reads
// its client secret.
func applyProfile(out map[string]*OAuthProfile, id string, rp *rawOAuthProfile, pr problems, dir string) {
	key := "oauth." + id
	p := mergeOAuthProfile(out, id, rp, pr.file, pr.lines.line(key))
	if rp == nil {
		return
	}
	if s := secret(pr, key, secretKeys{inline: rp.ClientSecret, env: rp.ClientSecretEnv, file: rp.ClientSecretFile, name: "client_secret"}, dir); s.IsSet() {
		p.ClientSecret = s
	}
}

// resolveOAuth gives every seed and path that logs in with OAuth2 its
// profile: its own oauth_provider, else (for a seed) its provider's, with its
// own client id and secret applied and {tenant} filled in.
func (c *Config) resolveOAuth() {
	for _, s := range c.Seeds {
		if s.OAuthProvider == "" && s.UsesOAuth() && s.Provider != nil {
			s.OAuthProvider = s.Provider.OAuthProvider
		}
		c.resolveLogin(&s.OAuthLogin)
	}
	for _, p := range c.Paths {
		c.resolveLogin(&p.OAuthLogin)
	}
}

func (c *Config) resolveLogin(l *OAuthLogin) {
	if !l.UsesOAuth() {
		return
	}
	base := c.OAuth.Profiles[l.OAuthProvider]
	if base == nil {
		return // Validate names the unknown or missing profile
	}
	p := *base
	p.Scopes, p.AuthParams = slices.Clone(base.Scopes), base.AuthParams
	set(&p.ClientID, l.raw.OAuthClientID)
	if l.clientSecret.IsSet() {
		p.ClientSecret = l.clientSecret
	}
	tenant := or(p.Tenant, "common")
	for _, u := range []*string{&p.AuthURL, &p.TokenURL, &p.DeviceURL} {
		*u = strings.ReplaceAll(*u, "{tenant}", tenant)
	}
	l.OAuth = &p
}

// validateLogin checks the login keys of the seed or path at key; username is
// the account the token is for.
func (c *Config) validateLogin(pr problems, key string, l *OAuthLogin, username string) {
	switch l.Auth {
	case "", AuthPassword:
		for _, k := range []struct{ name, value string }{
			{"oauth_provider", l.raw.OAuthProvider}, {"oauth_client_id", l.raw.OAuthClientID},
			{"oauth_client_secret_env", l.raw.OAuthClientSecretEnv}, {"oauth_client_secret_file", l.raw.OAuthClientSecretFile},
		} {
			if k.value != "" {
				pr.add(key+"."+k.name, "applies only with auth = \"oauth2\" (add auth = \"oauth2\", or drop %s)", k.name)
			}
		}
		return
	case AuthOAuth2:
	default:
		pr.add(key+".auth", "%q is not one of password, oauth2", l.Auth)
		return
	}
	if l.password != "" {
		pr.add(key+"."+l.password, "auth = \"oauth2\" logs in with a token from the token file, not a password (drop password_env and password_file, or set auth = \"password\")")
	}
	if username == "" {
		pr.add(key+".username", "missing (the account the OAuth2 token is for, e.g. monitor@example.com)")
	}
	switch {
	case l.OAuthProvider == "" && strings.HasPrefix(key, "seeds."):
		pr.add(key+".oauth_provider", "missing, and the seed's provider names no OAuth2 profile (set oauth_provider = %s)", c.profileChoices())
	case l.OAuthProvider == "":
		pr.add(key+".oauth_provider", "missing (set oauth_provider = %s)", c.profileChoices())
	case c.OAuth.Profiles[l.OAuthProvider] == nil:
		pr.add(key+".oauth_provider", "%q is not an OAuth2 profile (use %s, or add [oauth.%s] with token_url, scopes and client_id)", l.OAuthProvider, c.profileChoices(), l.OAuthProvider)
	case l.OAuth != nil && l.OAuth.ClientID == "":
		pr.add(key+".oauth_provider", "profile %q has no client_id (register an OAuth client with %s and set client_id in [oauth.%s], or oauth_client_id here)", l.OAuthProvider, l.OAuth.Name, l.OAuthProvider)
	}
}

// profileChoices lists the profile ids for a problem's fix.
func (c *Config) profileChoices() string {
	ids := sorted(c.OAuth.Profiles)
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	switch len(q) {
	case 0:
		return "the id of an [oauth.ID] table"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// validateOAuth checks every profile, used or not, the way validateProviders
// checks the catalog.
func (c *Config) validateOAuth(at func(file string) problems) {
	if c.OAuth.TokenFile == "" && c.UsesOAuth() {
		at(c.File).add("oauth.token_file", "empty (name the token file, or leave it out for %s beside the database)", DefaultTokenFile)
	}
	for _, id := range sorted(c.OAuth.Profiles) {
		p := c.OAuth.Profiles[id]
		pr, key := at(p.Source), "oauth."+id
		if p.TokenURL == "" {
			pr.add(key+".token_url", "missing (the provider's token endpoint)")
		}
		if p.AuthURL == "" && p.DeviceURL == "" {
			pr.add(key+".authorization_url", "missing, and no device_authorization_url either (give at least one, so that mailflow auth login can log in)")
		}
		if len(p.Scopes) == 0 {
			pr.add(key+".scopes", "missing (the scopes IMAP and SMTP need at this provider)")
		}
		for _, u := range []struct{ name, url string }{{"authorization_url", p.AuthURL}, {"token_url", p.TokenURL}, {"device_authorization_url", p.DeviceURL}} {
			if u.url != "" && !strings.HasPrefix(u.url, "https://") && !isLoopbackHTTP(u.url) {
				pr.add(key+"."+u.name, "%q is not an https URL (tokens travel only over TLS; plain http only to 127.0.0.1)", u.url)
			}
		}
	}
}

// isLoopbackHTTP allows plain http to a loopback address, for tests and
// local authorization servers.
func isLoopbackHTTP(u string) bool {
	return strings.HasPrefix(u, "http://127.0.0.1:") || strings.HasPrefix(u, "http://[::1]:") || strings.HasPrefix(u, "http://localhost:")
}

// UsesOAuth reports whether any seed or path logs in with OAuth2.
func (c *Config) UsesOAuth() bool {
	for _, s := range c.Seeds {
		if s.UsesOAuth() {
			return true
		}
	}
	for _, p := range c.Paths {
		if p.UsesOAuth() {
			return true
		}
	}
	return false
}

// describe says how an OAuth2 login gets its token, for Print.
func (l *OAuthLogin) describe() string {
	return "oauth2 via " + or(l.OAuthProvider, "?")
}

// printOAuth writes the token file and the profiles in use, secrets masked.
func (c *Config) printOAuth(w io.Writer) {
	// One row per profile and client id, as the seeds and paths resolved
	// them: a seed's own oauth_client_id shows as its own row.
	used := map[string]*OAuthProfile{}
	for _, s := range c.Seeds {
		if s.OAuth != nil {
			used[s.OAuthProvider+"\x00"+s.OAuth.ClientID] = s.OAuth
		}
	}
	for _, p := range c.Paths {
		if p.OAuth != nil {
			used[p.OAuthProvider+"\x00"+p.OAuth.ClientID] = p.OAuth
		}
	}
	if len(used) == 0 {
		return
	}
	fmt.Fprintf(w, "\noauth2 token file\t%s\n", c.OAuth.TokenFile)
	fmt.Fprintln(w, "\nOAUTH2 PROFILE\tTOKEN ENDPOINT\tDEVICE LOGIN\tSCOPES\tCLIENT ID\tCLIENT SECRET")
	for _, k := range sorted(used) {
		p := used[k]
		device := "no"
		if p.DeviceURL != "" {
			device = "yes"
		}
		id, _, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, p.TokenURL, device, strings.Join(p.Scopes, " "), orNone(p.ClientID), p.ClientSecret)
	}
}
