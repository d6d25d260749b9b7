package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/mailflow/mailflow/internal/message"
	"github.com/mailflow/mailflow/seeds"
)

// Defaults applied when a key is absent.
const (
	DefaultStorePath    = "mailflow.db"
	DefaultTimeout      = 30 * time.Second
	DefaultDeadline     = 5 * time.Minute
	DefaultPollInterval = 10 * time.Second
	DefaultSubject      = "mailflow probe"
	DefaultRetention    = 90 * 24 * time.Hour
	DefaultPurgeAfter   = 24 * time.Hour
	DefaultHousekeeping = time.Hour
)

// Load reads the configuration at path, resolves seed lists, the provider
// catalog and secrets, and validates the result. It reports every problem at
// once: the error is an Errors, one Problem per line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w (pass --config with the path of your config.toml)", err)
	}
	var errs []error
	var raw rawFile
	pr := problems{file: path, lines: keyLines(data), errs: &errs}
	if !decode(path, data, &raw, &errs) {
		return nil, Errors(errs)
	}
	c := &Config{File: path, keyLines: map[string]lines{path: pr.lines}}
	dir := filepath.Dir(path)
	c.Providers = catalog(raw, dir, pr, c, &errs)
	c.Store.Path = resolvePath(dir, or(raw.Store.Path, DefaultStorePath))
	c.Housekeeping = Housekeeping{
		Retention:  duration(pr, "housekeeping.retention", raw.Housekeeping.Retention, DefaultRetention),
		PurgeAfter: duration(pr, "housekeeping.purge_after", raw.Housekeeping.PurgeAfter, DefaultPurgeAfter),
		Interval:   duration(pr, "housekeeping.interval", raw.Housekeeping.Interval, DefaultHousekeeping),
	}
	c.Paths = resolvePaths(raw.Paths, dir, pr)
	c.Seeds = map[string]*Seed{}
	for name, rs := range raw.Seeds {
		c.Seeds[name] = resolveSeed(name, rs, path, dir, pr)
	}
	c.SeedLists = resolveSeedLists(raw.SeedLists, dir, pr, c, &errs)
	c.Checks = resolveChecks(raw.Checks, pr)
	c.resolveProviders()
	c.expandSeedLists()
	errs = append(errs, c.Validate()...)
	if len(errs) > 0 {
		sortProblems(errs)
		return nil, Errors(errs)
	}
	return c, nil
}

// sortProblems orders problems by file and line, as a reader fixes them.
func sortProblems(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, aok := errs[i].(*Problem)
		b, bok := errs[j].(*Problem)
		if !aok || !bok {
			return aok && !bok
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}

// decode decodes strictly: unknown keys are problems with their line and, when
// a known key is close, a suggestion.
func decode(file string, data []byte, v any, errs *[]error) bool {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var strict *toml.StrictMissingError
	var derr *toml.DecodeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &strict):
		for _, e := range strict.Errors {
			row, _ := e.Position()
			key := strings.Join(e.Key(), ".")
			*errs = append(*errs, &Problem{File: file, Line: row, Key: key,
				Msg: "unknown key" + suggest(e.Key()[len(e.Key())-1]) + " (see config.example.toml for every key)"})
		}
		return true // the rest decoded; report everything else too
	case errors.As(err, &derr):
		row, col := derr.Position()
		*errs = append(*errs, &Problem{File: fmt.Sprintf("%s:%d:%d", file, row, col), Key: strings.Join(derr.Key(), "."),
			Msg: strings.TrimPrefix(derr.Error(), "toml: ") + " (fix the TOML syntax or the value's type)"})
	default:
		*errs = append(*errs, &Problem{File: file, Msg: err.Error()})
	}
	return false
}

// knownKeys are suggested for a misspelt key.
var knownKeys = []string{"providers_file", "store", "path", "housekeeping", "retention", "purge_after", "interval", "paths", "seed_lists", "seeds", "checks", "providers",
	"host", "port", "security", "starttls", "tls_server_name", "ca_file", "username", "password_env",
	"password_file", "auth_mechanism", "allow_plaintext_auth", "helo", "mail_from", "from", "timeout", "dkim",
	"domain", "selector", "key_file", "address", "provider", "imap_host", "imap_port", "imap_security", "inbox",
	"junk", "trust", "cleanup", "schedule", "jitter", "deadline", "poll_interval", "subject", "body", "name", "domains",
	"junk_folders", "authserv_ids", "max_connections", "notes"}

func suggest(key string) string {
	best, bestD := "", 3
	for _, k := range knownKeys {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" || best == key {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance of two short keys.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// duration parses a duration key, or returns def when it is absent. Besides
// Go's units it takes whole days, "90d", for retention periods.
func duration(pr problems, key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		pr.add(key, "%q is not a duration (write it like \"30s\", \"5m\", \"1h30m\" or \"90d\")", s)
		return def
	}
	return d
}

// secret reads a credential from the environment or a file. Inline values are
// refused so that a config file can be shared and committed.
func secret(pr problems, key, inline, env, file, dir string, required bool) Secret {
	switch {
	case inline != "":
		pr.add(key+".password", "secrets are never read from the config file (use password_env or password_file)")
	case env != "" && file != "":
		pr.add(key, "both password_env and password_file are set (keep one)")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			pr.add(key+".password_env", "%s is not set (export it, or use password_file)", env)
			return Secret{}
		}
		return NewSecret(v, "env:"+env)
	case file != "":
		f := resolvePath(dir, file)
		b, err := os.ReadFile(f)
		if err != nil {
			pr.add(key+".password_file", "%v (create the file or fix the path)", err)
			return Secret{}
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			pr.add(key+".password_file", "%s is empty", f)
		}
		return NewSecret(v, "file:"+f)
	case required:
		pr.add(key, "no password (set password_env or password_file)")
	}
	return Secret{}
}

func resolvePaths(raw map[string]rawPath, dir string, pr problems) map[string]*Path {
	out := map[string]*Path{}
	for name, rp := range raw {
		key := "paths." + name
		p := &Path{
			Name: name, Line: pr.lines.line(key), Host: rp.Host, Port: rp.Port, Security: Security(or(rp.Security, string(SecurityNone))),
			StartTLS: or(rp.StartTLS, "auto"), TLSServerName: rp.TLSServerName, CAFile: resolvePath(dir, rp.CAFile),
			Username: rp.Username, AuthMechanism: strings.ToLower(rp.AuthMechanism), AllowPlaintextAuth: rp.AllowPlaintextAuth,
			HELO: rp.HELO, MailFrom: rp.MailFrom, From: or(rp.From, rp.MailFrom),
			Timeout: duration(pr, key+".timeout", rp.Timeout, DefaultTimeout),
		}
		if p.Port == 0 {
			p.Port = map[Security]int{SecurityNone: 25, SecuritySTARTTLS: 587, SecurityTLS: 465}[p.Security]
		}
		if p.HELO == "" {
			p.HELO, _ = os.Hostname()
		}
		if rp.Username != "" || rp.PasswordEnv != "" || rp.PasswordFile != "" || rp.Password != "" {
			p.Password = secret(pr, key, rp.Password, rp.PasswordEnv, rp.PasswordFile, dir, rp.Username != "")
			if rp.Username == "" {
				pr.add(key+".username", "a password is set but no username (add username, or drop the password for a path without AUTH)")
			}
		}
		if rp.DKIM != nil {
			p.DKIM = resolveDKIM(key+".dkim", *rp.DKIM, p.From, dir, pr)
		}
		out[name] = p
	}
	return out
}

func resolveDKIM(key string, rd rawDKIM, from, dir string, pr problems) *DKIM {
	d := &DKIM{Domain: rd.Domain, Selector: rd.Selector, KeyFile: resolvePath(dir, rd.KeyFile)}
	if d.Domain == "" {
		if i := strings.LastIndexByte(from, '@'); i >= 0 {
			d.Domain = strings.Trim(from[i+1:], "> ")
		}
	}
	if d.Selector == "" {
		pr.add(key+".selector", "missing (the selector whose TXT record holds the public key)")
	}
	if rd.KeyFile == "" {
		pr.add(key+".key_file", "missing (a PEM RSA or Ed25519 private key)")
		return d
	}
	b, err := os.ReadFile(d.KeyFile)
	if err != nil {
		pr.add(key+".key_file", "%v", err)
		return d
	}
	if _, err := message.ParseDKIMKey(b); err != nil {
		pr.add(key+".key_file", "%s: %v", d.KeyFile, err)
	}
	d.Key = NewSecret(string(b), "file:"+d.KeyFile)
	return d
}

func resolveSeed(name string, rs rawSeed, file, dir string, pr problems) *Seed {
	key := "seeds." + name
	s := &Seed{
		Name: name, Line: pr.lines.line(key), Source: file, Address: rs.Address, IMAPHost: rs.IMAPHost,
		IMAPPort: rs.IMAPPort, IMAPSecurity: Security(rs.IMAPSecurity), CAFile: resolvePath(dir, rs.CAFile),
		TLSServerName: rs.TLSServerName, Username: or(rs.Username, rs.Address),
		AllowPlaintextAuth: rs.AllowPlaintextAuth, Inbox: or(rs.Inbox, "INBOX"), Junk: rs.Junk, Trust: rs.Trust,
		Cleanup: rs.Cleanup == nil || *rs.Cleanup, providerID: rs.Provider,
	}
	s.Password = secret(pr, key, rs.Password, rs.PasswordEnv, rs.PasswordFile, dir, true)
	return s
}

func resolveSeedLists(raw map[string]string, dir string, pr problems, c *Config, errs *[]error) map[string]*SeedList {
	out := map[string]*SeedList{}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		file := resolvePath(dir, raw[name])
		data, err := os.ReadFile(file)
		if err != nil {
			pr.add("seed_lists."+name, "%v (fix the path; it is relative to %s)", err, pr.file)
			continue
		}
		lpr := problems{file: file, lines: keyLines(data), errs: errs}
		c.keyLines[file] = lpr.lines
		var rl rawSeedList
		if !decode(file, data, &rl, errs) {
			continue
		}
		list := &SeedList{Name: name, File: file}
		for sname, rs := range rl.Seeds {
			if prev, dup := c.Seeds[sname]; dup {
				lpr.add("seeds."+sname, "seed %q is also declared in %s:%d (give one of them another name)", sname, prev.Source, prev.Line)
				continue
			}
			c.Seeds[sname] = resolveSeed(sname, rs, file, filepath.Dir(file), lpr)
			list.Seeds = append(list.Seeds, sname)
		}
		sort.Slice(list.Seeds, func(i, j int) bool { return lpr.lines[("seeds."+list.Seeds[i])] < lpr.lines[("seeds."+list.Seeds[j])] })
		out[name] = list
	}
	return out
}

func resolveChecks(raw map[string]rawCheck, pr problems) map[string]*Check {
	out := map[string]*Check{}
	for name, rc := range raw {
		key := "checks." + name
		out[name] = &Check{
			Name: name, Line: pr.lines.line(key), Schedule: rc.Schedule, Paths: rc.Paths, Seeds: rc.Seeds,
			SeedLists: rc.SeedLists, Subject: or(rc.Subject, DefaultSubject), Body: rc.Body,
			Deadline:     duration(pr, key+".deadline", rc.Deadline, DefaultDeadline),
			PollInterval: duration(pr, key+".poll_interval", rc.PollInterval, DefaultPollInterval),
			Jitter:       duration(pr, key+".jitter", rc.Jitter, 0),
		}
	}
	return out
}

// catalog loads the built-in providers, then providers_file, then [providers]
// tables of the config itself; later entries replace earlier ones by id.
func catalog(raw rawFile, dir string, pr problems, c *Config, errs *[]error) map[string]*Provider {
	out := map[string]*Provider{}
	add := func(file string, data []byte) {
		var cat rawCatalog
		if !decode(file, data, &cat, errs) {
			return
		}
		for id, rp := range cat.Providers {
			out[id] = provider(id, rp)
		}
	}
	add("seeds/providers.toml (built in)", seeds.Providers)
	if raw.ProvidersFile != "" {
		f := resolvePath(dir, raw.ProvidersFile)
		if data, err := os.ReadFile(f); err != nil {
			pr.add("providers_file", "%v", err)
		} else {
			c.keyLines[f] = keyLines(data)
			add(f, data)
		}
	}
	for id, rp := range raw.Providers {
		out[id] = provider(id, rp)
	}
	return out
}

func provider(id string, rp *rawProvider) *Provider {
	return &Provider{ID: id, Name: or(rp.Name, id), Domains: rp.Domains, IMAPHost: rp.IMAPHost, IMAPPort: rp.IMAPPort,
		IMAPSecurity: Security(rp.IMAPSecurity), JunkFolders: rp.JunkFolders, AuthservIDs: rp.AuthservIDs,
		MaxConnections: rp.MaxConnections, Notes: rp.Notes}
}
