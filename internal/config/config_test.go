package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testPassword is what every test password env var holds; no error and no
// printout may show it.
const testPassword = "s3cret-value-never-printed"

// exampleEnv sets every environment variable the example config and its seed
// list name, as a user would export them.
// exampleURL is what a notifier URL of the example holds: a secret too.
const exampleURL = "https://hooks.example.net/T0/" + testPassword

func exampleEnv(t *testing.T, files ...string) {
	t.Helper()
	re := regexp.MustCompile(`(\w+)_env\s*=\s*"(\w+)"`)
	for _, f := range files {
		for _, m := range re.FindAllStringSubmatch(readFile(t, f), -1) {
			v := testPassword
			if m[1] == "url" {
				v = exampleURL
			}
			t.Setenv(m[2], v)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	// Copy the example beside the files it names, as a user would.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.toml"), []byte(readFile(t, "../../config.example.toml")))
	writeFile(t, filepath.Join(dir, "seeds/example.toml"), []byte(readFile(t, "../../seeds/example.toml")))
	key := testKey(t, "ed25519")
	writeFile(t, filepath.Join(dir, "dkim.pem"), key)
	writeFile(t, filepath.Join(dir, "slack-webhook.url"), []byte(exampleURL+"\n"))
	exampleEnv(t, "../../config.example.toml", "../../seeds/example.toml")

	c, err := Load(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatalf("config.example.toml does not load:\n%v", err)
	}
	if got := c.Seeds["gmail-1"].Provider.ID; got != "gmail" {
		t.Errorf("gmail-1 provider = %q, want gmail (from the address's domain)", got)
	}
	if s := c.Seeds["gmail-1"]; s.IMAPHost != "imap.gmail.com" || s.IMAPPort != 993 || !s.Cleanup || s.Username != s.Address {
		t.Errorf("gmail-1 = %s:%d cleanup %v user %q, want imap.gmail.com:993, cleanup on, the address as user", s.IMAPHost, s.IMAPPort, s.Cleanup, s.Username)
	}
	list := readFile(t, "../../seeds/example.toml")
	line := 1 + strings.Count(list[:strings.Index(list, "[seeds.outlook-1]")], "\n")
	if got := c.Seeds["outlook-1"]; got == nil || got.Source != filepath.Join(dir, "seeds/example.toml") || got.Line != line || got.Provider.ID != "outlook" {
		t.Errorf("outlook-1 from the seed list = %+v, want it from seeds/example.toml:%d with provider outlook", got, line)
	}
	if got, want := strings.Join(c.Checks["default"].Seeds, ","), "gmail-1,own-mx,outlook-1,fastmail-1"; got != want {
		t.Errorf("check seeds = %s, want %s (the check's seeds, then the list's in file order)", got, want)
	}
	p := c.Paths["submission"]
	if p.Port != 587 || p.Password.Reveal() != testPassword || p.DKIM == nil || p.DKIM.Selector != "mf1" || p.DKIM.Key.Reveal() != string(key) {
		t.Errorf("submission path = port %d dkim %+v, want 587 with the password and the DKIM key", p.Port, p.DKIM)
	}
	if got := c.Paths["relay"].Port; got != 25 {
		t.Errorf("relay port = %d, want 25 (the default of security none)", got)
	}
	if c.Store.Path != filepath.Join(dir, "mailflow.db") {
		t.Errorf("store path = %s, want it beside the config", c.Store.Path)
	}
	rules := c.Checks["default"].Alerts
	if len(rules) != 5 || rules[0].Name != "auth" || rules[3].Name != "spam" || rules[3].By != "seed" || rules[1].By != "path" ||
		rules[1].For != 10*time.Minute || rules[1].Renotify != 4*time.Hour || rules[4].ExpiresWithin != 14*24*time.Hour {
		t.Errorf("alert rules = %+v, want auth, smtp, slow, spam, tls with their keys and defaults", rules)
	}
	if n := c.Notifiers["oncall"]; n == nil || n.URL.Reveal() != exampleURL || n.HMACKey.Reveal() != testPassword || c.Notifiers["chat"].URL.Reveal() != exampleURL {
		t.Errorf("notifiers = %+v, want the webhook's URL and key from the environment, the slack URL from its file", c.Notifiers)
	}
	if c.Web.Listen != "127.0.0.1:9717" {
		t.Errorf("web listen = %q, want 127.0.0.1:9717", c.Web.Listen)
	}
	var out bytes.Buffer
	c.Print(&out)
	for _, want := range []string{"alert slow  critical: a probe's round trip over 2m, by path, for 10m; notify oncall", "oncall    webhook", "http://127.0.0.1:9717"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{testPassword, "PRIVATE KEY", string(key[30:60]), "hooks.example.net"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("Print shows %q:\n%s", secret, out.String())
		}
	}
	for _, want := range []string{"env:MAILFLOW_GMAIL1", "imap.gmail.com:993", "mx.google.com", "d=example.com s=mf1", `"[Gmail]/Spam"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInvalidConfigs(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	t.Setenv("MF_TEST_UNSET", "")
	os.Unsetenv("MF_TEST_UNSET")
	for _, tc := range []struct {
		file string
		want []string // the problems, in order: each line starts with one
	}{
		{"invalid-missing-env.toml", []string{
			"testdata/invalid-missing-env.toml:5: paths.sub.password_env: MF_TEST_UNSET is not set (export it or use password_file)"}},
		{"invalid-inline-password.toml", []string{
			"testdata/invalid-inline-password.toml:3: seeds.s1.password: secrets are never read from the config file (use password_env or password_file)"}},
		{"invalid-password-file.toml", []string{
			"testdata/invalid-password-file.toml:5: paths.p.password_file: open testdata/no-such-secret: no such file or directory"}},
		{"invalid-unknown-key.toml", []string{
			`testdata/invalid-unknown-key.toml:4: paths.p.securty: unknown key (did you mean "security"?)`}},
		{"invalid-bad-duration.toml", []string{
			`testdata/invalid-bad-duration.toml:12: checks.c.deadline: "5 minutes" is not a duration`}},
		{"invalid-imap.toml", []string{
			"testdata/invalid-imap.toml:2: imap.connections_per_host: must be at least 1 (default 4)"}},
		{"invalid-bad-port.toml", []string{
			"testdata/invalid-bad-port.toml:8: seeds.s1.imap_port: 99999 is not a TCP port (1-65535)"}},
		{"invalid-bad-security.toml", []string{
			`testdata/invalid-bad-security.toml:3: paths.p.security: "ssl" is not one of none, starttls, tls`}},
		{"invalid-unknown-path.toml", []string{
			`testdata/invalid-unknown-path.toml:10: checks.c.paths: no path named "submision" (declared: submission)`}},
		{"invalid-duplicate-seed.toml", []string{
			`testdata/list-dup.toml:5: seeds.s1: seed "s1" is also declared in testdata/invalid-duplicate-seed.toml:8 (give one of them another name)`}},
		{"invalid-syntax.toml", []string{
			"testdata/invalid-syntax.toml:4:8: unexpected character U+003D '=' at start of value (fix the TOML syntax)"}},
		{"invalid-types.toml", []string{
			"testdata/invalid-types.toml:3: paths.p.port: a string where an integer is expected",
			"testdata/invalid-types.toml:9: seeds.s1.cleanup: a string where a boolean (true or false) is expected",
			"testdata/invalid-types.toml:13: checks.c.seeds: a string where an array of strings is expected"}},
		{"invalid-schedule.toml", []string{
			`testdata/invalid-schedule.toml:12: checks.hourly.schedule: "0 * * *": expected 5 to 6 fields`,
			"testdata/invalid-schedule.toml:13: checks.hourly.jitter: must not be negative"}},
		{"invalid-provider.toml", []string{
			`testdata/invalid-provider.toml:7: seeds.s1.provider: "nosuch" is not in the provider catalog`}},
		{"invalid-dkim.toml", []string{
			"testdata/invalid-dkim.toml:7: paths.p.dkim.key_file: testdata/not-a-key.pem: the PRIVATE KEY block is not a PKCS#1 or PKCS#8 private key"}},
		{"invalid-catalog.toml", []string{
			`testdata/bad-providers.toml:4: providers.corp.imap_security: "ssl" is not one of tls, starttls, none`,
			`testdata/bad-providers.toml:5: providers.corp.junk_folder: unknown key (did you mean "junk_folders"?)`}},
		{"invalid-alerts.toml", []string{
			`testdata/invalid-alerts.toml:13: checks.c.alerts.slow.threshold: missing (the round trip that is too slow, e.g. "30s")`,
			`testdata/invalid-alerts.toml:13: checks.c.alerts.slow.window: missing (the span the percentile is computed over, e.g. "1h")`,
			`testdata/invalid-alerts.toml:16: checks.c.alerts.slow.notify: no notifier named "pager" (declared: hook, mail)`,
			`testdata/invalid-alerts.toml:19: checks.c.alerts.odd.kind: "latencies" is not one of latency, placement, auth, smtp, tls`,
			`testdata/invalid-alerts.toml:23: checks.c.alerts.spam.placements: "junk" is not one of spam, missing, tab, other`,
			`testdata/invalid-alerts.toml:24: checks.c.alerts.spam.rate: 150 is not a rate in percent`,
			`testdata/invalid-alerts.toml:29: notifiers.hook.url: secrets are never read from the config file (use url_env or url_file)`,
			`testdata/invalid-alerts.toml:31: notifiers.mail`,
			`testdata/invalid-alerts.toml:33: notifiers.mail.path: no path named "nope"`,
			`testdata/invalid-alerts.toml:36: web.listen: "0.0.0.0:9717" is reachable from other hosts, so it needs a bearer token`}},
		// Several problems at once, in file order.
		{"invalid-many.toml", []string{
			"testdata/invalid-many.toml:3: paths.p.port: 70000 is not a TCP port",
			`testdata/invalid-many.toml:4: paths.p.security: "ssl" is not one of none, starttls, tls`,
			`testdata/invalid-many.toml:5: paths.p.mail_from: "not-an-address" is not an address`,
			`testdata/invalid-many.toml:6: paths.p.timeout: "soon" is not a duration`,
			`testdata/invalid-many.toml:13: checks.c.paths: no path named "nope" (declared: p)`,
			`testdata/invalid-many.toml:14: checks.c.seeds: no seed named "ghost" (declared: s1)`,
			"testdata/invalid-many.toml:16: checks.c.poll_interval: 2m must be positive and shorter than the deadline (1m)"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatalf("Load(%s) = %v, nil; want problems", tc.file, c)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load(%s) error is %T, want Errors", tc.file, err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Errorf("Load(%s) = %d problems, want %d:\n%s", tc.file, len(got), len(tc.want), err)
			}
			for i := range min(len(got), len(tc.want)) {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to start %q", i, got[i], tc.want[i])
				}
			}
			var p *Problem
			if !errors.As(err, &p) || p.File == "" || p.Line == 0 {
				t.Errorf("errors.As(err, *Problem) = %#v, want the first problem with its file and line", p)
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), "hunter2-inline") {
				t.Errorf("a problem shows a secret:\n%s", err)
			}
		})
	}
}

func TestValidConfigs(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	t.Setenv("MF_TEST_URL", exampleURL)
	for _, file := range []string{"base.toml", "print.toml"} {
		t.Run(file, func(t *testing.T) {
			if _, err := Load(filepath.Join("testdata", file)); err != nil {
				t.Errorf("Load(%s) = %v, want no problem", file, err)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-config.toml")
	if want := "testdata/no-such-config.toml: open testdata/no-such-config.toml: no such file or directory"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load of a missing file = %v, want %q", err, want)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), []byte(testPassword+"\n"))
	writeFile(t, filepath.Join(dir, "empty"), []byte("\n"))
	t.Setenv("MF_TEST_PW", testPassword)
	t.Setenv("MF_TEST_EMPTY", "")
	base := readFile(t, "testdata/base.toml")
	for _, tc := range []struct {
		name, seedKeys string
		want           string // a problem, or "" when the password loads
	}{
		{"env", `password_env = "MF_TEST_PW"`, ""},
		{"file", `password_file = "pw"`, ""},
		{"empty env", `password_env = "MF_TEST_EMPTY"`, "c.toml:10: seeds.s1.password_env: MF_TEST_EMPTY is set but empty"},
		{"empty file", `password_file = "empty"`, "c.toml:10: seeds.s1.password_file: " + filepath.Join(dir, "empty") + " is empty"},
		{"both", "password_env = \"MF_TEST_PW\"\npassword_file = \"pw\"", "c.toml:11: seeds.s1.password_file: both password_env and password_file are set (keep one)"},
		{"none", `# no password`, "c.toml:8: seeds.s1: no password (set password_env or password_file)"},
		{"inline", `password = "` + testPassword + `"`, "c.toml:10: seeds.s1.password: secrets are never read from the config file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := strings.Replace(base, "address = \"s1@gmail.com\"\npassword_env = \"MF_TEST_PW\"", "address = \"s1@gmail.com\"\n"+tc.seedKeys, 1)
			writeFile(t, filepath.Join(dir, "c.toml"), []byte(cfg))
			c, err := Load(filepath.Join(dir, "c.toml"))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load = %v, want the password", err)
				}
				if got := c.Seeds["s1"].Password.Reveal(); got != testPassword {
					t.Errorf("password = %q, want %q", got, testPassword)
				}
				var out bytes.Buffer
				c.Print(&out)
				if strings.Contains(out.String(), testPassword) {
					t.Errorf("Print shows the password:\n%s", out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("Load = %v, want the one problem %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testPassword) {
				t.Errorf("a problem shows the password: %v", err)
			}
		})
	}
}

func TestSecretNeverFormats(t *testing.T) {
	s := NewSecret(testPassword, "env:X")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if got := fmt.Sprintf(verb, s) + fmt.Sprintf(verb, struct{ P Secret }{s}); strings.Contains(got, testPassword) {
			t.Errorf("Sprintf(%q, secret) = %q, want it masked", verb, got)
		}
	}
	for _, got := range []string{s.String(), s.GoString(), s.LogValue().String()} {
		if strings.Contains(got, testPassword) {
			t.Errorf("secret formatted as %q", got)
		}
	}
}

func TestSeedListFiles(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lists/pw"), []byte(testPassword))
	writeFile(t, filepath.Join(dir, "lists/team.toml"), []byte("[seeds.t1]\naddress = \"t1@example.net\"\nimap_host = \"imap.example.net\"\npassword_file = \"pw\"\n"))
	cfg := strings.Replace(readFile(t, "testdata/base.toml"), "[checks.c]", "[seed_lists]\na = \"lists/team.toml\"\nb = \"lists/team.toml\"\n\n[checks.c]\nseed_lists = [\"a\", \"b\"]", 1)
	writeFile(t, filepath.Join(dir, "c.toml"), []byte(cfg))
	c, err := Load(filepath.Join(dir, "c.toml"))
	if err != nil {
		t.Fatalf("Load = %v, want a file named by two lists read once, its password_file beside it", err)
	}
	s := c.Seeds["t1"]
	if got, want := s.Password.Source(), "file:"+filepath.Join(dir, "lists/pw"); got != want {
		t.Errorf("t1 password from %s, want %s (relative to the seed list)", got, want)
	}
	if got, want := strings.Join(c.Checks["c"].Seeds, ","), "s1,t1"; got != want {
		t.Errorf("check seeds = %s, want %s", got, want)
	}
	if s.Provider.ID != GenericProvider || s.IMAPPort != 993 || s.IMAPSecurity != SecurityTLS {
		t.Errorf("t1 = provider %s %d %s, want generic on 993 with tls", s.Provider.ID, s.IMAPPort, s.IMAPSecurity)
	}
}

func TestValidateInCode(t *testing.T) {
	valid := func() *Config {
		return &Config{
			Store: Store{Path: "mf.db"},
			Paths: map[string]*Path{"p": {Host: "127.0.0.1", Port: 2525, Security: SecurityNone, StartTLS: "auto",
				HELO: "client.test", MailFrom: "m@example.test", Timeout: time.Second}},
			Seeds: map[string]*Seed{"s": {Address: "s@example.test", Provider: &Provider{ID: "lab"}, IMAPHost: "127.0.0.1",
				IMAPPort: 1143, IMAPSecurity: SecurityTLS, Username: "s", Password: NewSecret(testPassword, "code"), Inbox: "INBOX"}},
			Checks: map[string]*Check{"c": {Paths: []string{"p"}, Seeds: []string{"s"}, Deadline: time.Minute, PollInterval: time.Second}},
		}
	}
	if errs := valid().Validate(); len(errs) > 0 {
		t.Fatalf("Validate() = %v, want no problem", Errors(errs))
	}
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"no password", func(c *Config) { c.Seeds["s"].Password = Secret{} }, "seeds.s: no password (set password_env or password_file)"},
		{"auth without password", func(c *Config) { c.Paths["p"].Username = "u" }, `paths.p: username "u" has no password`},
		{"plaintext auth", func(c *Config) {
			c.Paths["p"].Username, c.Paths["p"].Password, c.Paths["p"].StartTLS = "u", NewSecret("x", ""), "never"
		}, "paths.p.allow_plaintext_auth: the password would be sent without TLS"},
		{"plaintext login", func(c *Config) { c.Seeds["s"].IMAPSecurity = SecurityNone }, `seeds.s.imap_security: "none" would send the password without TLS`},
		{"dkim key", func(c *Config) {
			c.Paths["p"].DKIM = &DKIM{Domain: "example.test", Selector: "s", KeyFile: "k.pem", Key: NewSecret("junk", "")}
		}, "paths.p.dkim.key_file: k.pem: holds no PEM block"},
		{"no seeds", func(c *Config) { c.Checks["c"].Seeds = nil }, "checks.c.seeds: the check has no seeds"},
		{"no paths", func(c *Config) { c.Checks["c"].Paths = nil }, "checks.c.paths: empty"},
		{"deadline", func(c *Config) { c.Checks["c"].Deadline = 0 }, "checks.c.deadline: must be positive"},
		{"unknown seed list", func(c *Config) { c.Checks["c"].SeedLists = []string{"x"} }, `checks.c.seed_lists: no seed list named "x"`},
		{"bad trust", func(c *Config) { c.Seeds["s"].Trust = []string{"mx.example.test; spf=pass"} }, "seeds.s.trust:"},
		{"no checks", func(c *Config) { c.Checks = nil }, "checks: no check is declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(c)
			errs := c.Validate()
			if len(errs) != 1 || errs[0].Error() != tc.want && !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Errorf("Validate() = %v, want the one problem %q", Errors(errs), tc.want)
			}
		})
	}
}

func TestCheckDKIMKey(t *testing.T) {
	for _, tc := range []struct {
		kind string
		ok   bool
	}{
		{"ed25519", true}, {"rsa-pkcs1", true}, {"rsa-pkcs8", true}, {"ecdsa", false}, {"garbage", false},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			key := testKey(t, tc.kind)
			err := checkDKIMKey(string(key))
			if (err == nil) != tc.ok {
				t.Errorf("checkDKIMKey(%s) = %v, want ok %v", tc.kind, err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), string(key[40:60])) {
				t.Errorf("checkDKIMKey(%s) = %v quotes the key", tc.kind, err)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	root := reflect.TypeFor[rawFile]()
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{[]string{"paths", "p", "securty"}, `did you mean "security"?`},
		{[]string{"seeds", "s", "pasword_env"}, `did you mean "password_env"?`},
		{[]string{"seeds", "s", "imap_hots"}, `did you mean "imap_host"?`},
		{[]string{"checks", "c", "deadlin"}, `did you mean "deadline"?`},
		{[]string{"paths", "p", "dkim", "keyfile"}, `did you mean "key_file"?`},
		{[]string{"storage"}, `did you mean "store"?`},
		{[]string{"seeds", "s", "pasword"}, "remove it"}, // never suggest the refused key
		{[]string{"paths", "p", "colour"}, "remove it"},
	} {
		if got := suggest(root, tc.key); !strings.Contains(got, tc.want) {
			t.Errorf("suggest(%v) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

// TestExampleDocumentsEveryKey keeps config.example.toml complete: every key
// a config may hold is written there, as a key or in a comment.
func TestExampleDocumentsEveryKey(t *testing.T) {
	example := readFile(t, "../../config.example.toml")
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Map || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return
		}
		for i := range typ.NumField() {
			tag := tomlTag(typ.Field(i))
			if tag == "" || refusedKeys[tag] {
				continue
			}
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(tag) + `\b`).MatchString(example) {
				t.Errorf("config.example.toml does not document %s%s", prefix, tag)
			}
			walk(prefix+tag+".", typ.Field(i).Type)
		}
	}
	walk("", reflect.TypeFor[rawFile]())
}

func TestProblemFormat(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "c.toml", Line: 14, Key: "seeds.gmail-1.password_env", Msg: "MAILFLOW_GMAIL1 is not set (export it or use password_file)"},
			"c.toml:14: seeds.gmail-1.password_env: MAILFLOW_GMAIL1 is not set (export it or use password_file)"},
		{Problem{File: "c.toml", Line: 4, Column: 8, Msg: "bad"}, "c.toml:4:8: bad"},
		{Problem{File: "c.toml", Key: "checks", Msg: "none"}, "c.toml: checks: none"},
		{Problem{Key: "paths.p.port", Msg: "bad"}, "paths.p.port: bad"},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// testKey returns a PEM private key of a kind, or something that is not one.
func testKey(t *testing.T, kind string) []byte {
	t.Helper()
	var der []byte
	var err error
	typ := "PRIVATE KEY"
	switch kind {
	case "ed25519":
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		der, err = x509.MarshalPKCS8PrivateKey(k)
	case "rsa-pkcs1", "rsa-pkcs8":
		k, kerr := rsa.GenerateKey(rand.Reader, 1024)
		if kerr != nil {
			t.Fatal(kerr)
		}
		if kind == "rsa-pkcs1" {
			der, typ = x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY"
		} else {
			der, err = x509.MarshalPKCS8PrivateKey(k)
		}
	case "ecdsa":
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err = x509.MarshalPKCS8PrivateKey(k)
	default:
		der = bytes.Repeat([]byte("not a key at all "), 8)
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValueMessages(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"[paths.p]\nport = \"587\"\n", "x.toml:2: paths.p.port: a string where an integer is expected"},
		{"[paths.p]\ndkim = \"x\"\n", "x.toml:2: paths.p.dkim: a string where a table is expected"},
		{"[checks.c]\npaths = [1, 2]\n", "x.toml:2: checks.c.paths: an integer where a string is expected"},
		{"seed_lists = [\"a\"]\n", "x.toml:1: seed_lists: an array where a table is expected"},
		{"[seeds.s]\naddress = \"a@b.c\"\naddress = \"d@e.f\"\n", "x.toml:3:1: key address is already defined (fix the TOML syntax)"},
	} {
		_, err := load("x.toml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("load(%q) = %v, want a problem %q", tc.doc, err, tc.want)
		}
	}
}

func TestSeedIdle(t *testing.T) {
	t.Setenv("MF_TEST_PW", "x")
	doc := `[paths.p]
host = "smtp.example.com"
mail_from = "m@example.com"
[seeds.polled]
address = "a@example.net"
imap_host = "imap.example.net"
password_env = "MF_TEST_PW"
idle = false
fast_poll = "25ms"
[seeds.idling]
address = "b@example.net"
imap_host = "imap.example.net"
password_env = "MF_TEST_PW"
[checks.c]
paths = ["p"]
seeds = ["polled", "idling"]
`
	c, err := load("idle.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Seeds["polled"].FastPoll != 25*time.Millisecond || c.Seeds["idling"].FastPoll != 0 {
		t.Errorf("FastPoll = %s %s, want 25ms and 0", c.Seeds["polled"].FastPoll, c.Seeds["idling"].FastPoll)
	}
	if !c.Seeds["polled"].NoIDLE || c.Seeds["idling"].NoIDLE {
		t.Errorf("NoIDLE polled=%v idling=%v, want true false", c.Seeds["polled"].NoIDLE, c.Seeds["idling"].NoIDLE)
	}
}
