package config

import (
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
	DefaultConnsPerHost = 4
)

// Load reads the configuration at path, resolves seed lists, the provider
// catalog and secrets, and validates the result. It reports every problem at
// once: the error is an Errors, one *Problem per line, each naming the file,
// the line, the key and the fix.
func Load(path string) (*Config, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, Errors{&Problem{File: path, Msg: fmt.Sprintf("%v (pass --config with the path of your config.toml)", err)}}
	}
	return load(path, data)
}

// load is Load of a document already read.
func load(path string, data []byte) (*Config, error) {
	raw, errs, ok := decode[rawFile](path, data)
	if !ok {
		return nil, Errors(errs)
	}
	c := &Config{File: path, keyLines: map[string]lines{path: keyLines(data)}}
	pr := problems{file: path, lines: c.keyLines[path], errs: &errs}
	dir := filepath.Dir(path)
	c.loadCatalog(raw, dir, pr, &errs)
	c.Store.Path = inDir(dir, or(raw.Store.Path, DefaultStorePath))
	c.loadOAuth(raw.OAuth, dir, pr, &errs)
	c.Housekeeping = Housekeeping{
		Retention:  duration(pr, "housekeeping.retention", raw.Housekeeping.Retention, DefaultRetention),
		PurgeAfter: duration(pr, "housekeeping.purge_after", raw.Housekeeping.PurgeAfter, DefaultPurgeAfter),
		Interval:   duration(pr, "housekeeping.interval", raw.Housekeeping.Interval, DefaultHousekeeping),
	}
	c.IMAP.ConnectionsPerHost = DefaultConnsPerHost
	if n := raw.IMAP.ConnectionsPerHost; n != nil {
		c.IMAP.ConnectionsPerHost = *n
		if *n < 1 {
			pr.add("imap.connections_per_host", "must be at least 1 (default %d)", DefaultConnsPerHost)
		}
	}
	c.Paths = map[string]*Path{}
	for _, name := range sorted(raw.Paths) {
		c.Paths[name] = newPath(pr, name, raw.Paths[name], dir)
	}
	c.Seeds = map[string]*Seed{}
	for _, name := range sorted(raw.Seeds) {
		c.Seeds[name] = newSeed(pr, name, raw.Seeds[name], dir)
	}
	c.loadSeedLists(raw.SeedLists, dir, pr, &errs)
	c.Checks = map[string]*Check{}
	for _, name := range sorted(raw.Checks) {
		c.Checks[name] = newCheck(pr, name, raw.Checks[name])
	}
	c.Web = newWeb(pr, raw.Web, dir)
	c.Notifiers = map[string]*Notifier{}
	for _, name := range sorted(raw.Notifiers) {
		c.Notifiers[name] = newNotifier(pr, name, raw.Notifiers[name], dir)
	}
	c.resolveProviders()
	c.resolveOAuth()
	c.expandSeedLists()
	errs = append(errs, uncovered(c.Validate(), errs)...)
	if len(errs) > 0 {
		sortProblems(errs, path)
		return nil, Errors(errs)
	}
	return c, nil
}

// maxFileSize bounds every file Load reads. Configs, seed lists, catalogs,
// keys and passwords are small; a mistaken name such as /dev/zero must not
// hang Load or exhaust memory.
const maxFileSize = 16 << 20

// readSmall reads a file of at most maxFileSize bytes.
func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, maxFileSize>>20)
	}
	return b, nil
}

// inDir returns p relative to dir, the directory of the file naming it.
func inDir(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// duration parses a duration key, or returns def when it is absent. Besides
// Go's units it takes whole days, "90d", for retention periods.
func duration(pr problems, key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := ParseDuration(s)
	if err != nil {
		pr.add(key, "%q is not a duration (write it like \"30s\", \"5m\", \"1h30m\" or \"90d\")", s)
		return def
	}
	return d
}

// ParseDuration reads a duration as the config writes them: Go's units, or
// whole days ("90d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// caFile resolves a ca_file key and checks that it holds certificates.
func caFile(pr problems, key, file, dir string) string {
	f := inDir(dir, file)
	if f != "" {
		if err := checkCAFile(f); err != nil {
			pr.add(key, "%v (a PEM bundle of the certificate authorities to trust)", err)
		}
	}
	return f
}

// newPath resolves the [paths.NAME] table: defaults, files and secrets.
func newPath(pr problems, name string, rp rawPath, dir string) *Path {
	key := "paths." + name
	p := &Path{
		Name: name, Line: pr.lines.line(key), Host: rp.Host, Port: rp.Port,
		Security: Security(or(rp.Security, string(SecurityNone))), StartTLS: or(rp.StartTLS, "auto"),
		TLSServerName: rp.TLSServerName, CAFile: caFile(pr, key+".ca_file", rp.CAFile, dir),
		Username: rp.Username, AuthMechanism: strings.ToLower(rp.AuthMechanism), AllowPlaintextAuth: rp.AllowPlaintextAuth,
		HELO: rp.HELO, MailFrom: rp.MailFrom, From: or(rp.From, rp.MailFrom),
		Timeout: duration(pr, key+".timeout", rp.Timeout, DefaultTimeout),
	}
	if p.Port == 0 {
		p.Port = smtpPort[p.Security]
	}
	if rp.StartTLS != "" && p.Security != SecurityNone {
		pr.add(key+".starttls", "applies only with security = \"none\" (drop it; security = %q already decides)", p.Security)
	}
	if p.HELO == "" {
		p.HELO, _ = os.Hostname()
	}
	p.Password = secret(pr, key, secretKeys{inline: rp.Password, env: rp.PasswordEnv, file: rp.PasswordFile}, dir)
	p.OAuthLogin = newLogin(pr, key, rp.rawLogin, passwordKey(rp.PasswordEnv, rp.PasswordFile), dir)
	if rp.Username == "" && (rp.PasswordEnv != "" || rp.PasswordFile != "") {
		pr.add(key+".username", "a password is named but no username (add username, or drop the password for a path without AUTH)")
	}
	if rp.DKIM != nil {
		p.DKIM = newDKIM(pr, key+".dkim", *rp.DKIM, p.From, dir)
	}
	return p
}

// smtpPort is the port of each SMTP security: relay, submission (RFC 6409)
// and submissions (RFC 8314 section 7.3).
var smtpPort = map[Security]int{SecurityNone: 25, SecuritySTARTTLS: 587, SecurityTLS: 465}

func newDKIM(pr problems, key string, rd rawDKIM, from, dir string) *DKIM {
	d := &DKIM{Domain: rd.Domain, Selector: rd.Selector, KeyFile: inDir(dir, rd.KeyFile)}
	if d.Domain == "" {
		if a, err := mail.ParseAddress(from); err == nil {
			d.Domain = a.Address[strings.LastIndexByte(a.Address, '@')+1:]
		}
	}
	d.Key = readDKIMKey(pr, key+".key_file", d.KeyFile)
	return d
}

// newSeed resolves a [seeds.NAME] table of the file pr is about.
func newSeed(pr problems, name string, rs rawSeed, dir string) *Seed {
	key := "seeds." + name
	s := &Seed{
		Name: name, Line: pr.lines.line(key), Source: pr.file, Address: rs.Address, IMAPHost: rs.IMAPHost,
		IMAPPort: rs.IMAPPort, IMAPSecurity: Security(rs.IMAPSecurity), CAFile: caFile(pr, key+".ca_file", rs.CAFile, dir),
		TLSServerName: rs.TLSServerName, Username: or(rs.Username, rs.Address),
		AllowPlaintextAuth: rs.AllowPlaintextAuth, Inbox: or(rs.Inbox, "INBOX"), Junk: rs.Junk, Trust: rs.Trust,
		Cleanup: rs.Cleanup == nil || *rs.Cleanup, NoIDLE: rs.IDLE != nil && !*rs.IDLE, providerID: rs.Provider,
		FastPoll: duration(pr, key+".fast_poll", rs.FastPoll, 0), Folders: rs.Folders,
	}
	s.Password = secret(pr, key, secretKeys{inline: rs.Password, env: rs.PasswordEnv, file: rs.PasswordFile}, dir)
	s.OAuthLogin = newLogin(pr, key, rs.rawLogin, passwordKey(rs.PasswordEnv, rs.PasswordFile), dir)
	return s
}

func newCheck(pr problems, name string, rc rawCheck) *Check {
	key := "checks." + name
	c := &Check{
		Name: name, Line: pr.lines.line(key), Schedule: rc.Schedule, Paths: rc.Paths,
		Seeds: append([]string(nil), rc.Seeds...), SeedLists: rc.SeedLists,
		Subject: or(rc.Subject, DefaultSubject), Body: rc.Body,
		Deadline:     duration(pr, key+".deadline", rc.Deadline, DefaultDeadline),
		PollInterval: duration(pr, key+".poll_interval", rc.PollInterval, DefaultPollInterval),
		Jitter:       duration(pr, key+".jitter", rc.Jitter, 0),
	}
	for _, r := range sorted(rc.Alerts) {
		c.Alerts = append(c.Alerts, newRule(pr, name, r, rc.Alerts[r]))
	}
	return c
}
