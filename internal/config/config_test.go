package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/mailflow/mailflow/seeds"
)

const testPassword = "s3cret-value-never-printed"

func TestExampleConfigLoads(t *testing.T) {
	// Copy the example beside the files it names, as a user would.
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{"../../config.example.toml", "config.toml"},
		{"../../seeds/example.toml", "seeds/example.toml"},
	} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f.to), b)
	}
	writeFile(t, filepath.Join(dir, "dkim.pem"), testKey(t))
	for _, env := range []string{"MAILFLOW_SUBMIT_PASSWORD", "MAILFLOW_GMAIL1", "MAILFLOW_OWN_MX", "MAILFLOW_OUTLOOK1", "MAILFLOW_FASTMAIL1"} {
		t.Setenv(env, testPassword)
	}
	c, err := Load(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatalf("config.example.toml does not load:\n%v", err)
	}
	if got := c.Seeds["gmail-1"].Provider.ID; got != "gmail" {
		t.Errorf("gmail-1 provider = %q, want gmail (from the address's domain)", got)
	}
	if s := c.Seeds["gmail-1"]; s.IMAPHost != "imap.gmail.com" || s.IMAPPort != 993 || !s.Cleanup {
		t.Errorf("gmail-1 imap = %s:%d cleanup %v, want imap.gmail.com:993 and cleanup on", s.IMAPHost, s.IMAPPort, s.Cleanup)
	}
	if got := c.Seeds["outlook-1"]; got == nil || got.Source != filepath.Join(dir, "seeds/example.toml") || got.Provider.ID != "outlook" {
		t.Errorf("outlook-1 from the seed list = %+v, want it with its source file and provider outlook", got)
	}
	if got := strings.Join(c.Checks["default"].Seeds, ","); got != "gmail-1,own-mx,outlook-1,fastmail-1" {
		t.Errorf("check seeds = %s, want the check's seeds then the list's in file order", got)
	}
	if p := c.Paths["submission"]; p.Port != 587 || p.Password.Reveal() != testPassword || p.DKIM == nil || p.DKIM.Selector != "mf1" {
		t.Errorf("submission path = port %d dkim %+v, want 587 with the password and a DKIM key", p.Port, p.DKIM)
	}
	if c.Store.Path != filepath.Join(dir, "mailflow.db") {
		t.Errorf("store path = %s, want it beside the config", c.Store.Path)
	}
	var out bytes.Buffer
	c.Print(&out)
	if strings.Contains(out.String(), testPassword) {
		t.Errorf("Print shows a secret:\n%s", out.String())
	}
	for _, want := range []string{"env:MAILFLOW_GMAIL1", "imap.gmail.com:993", "mx.google.com", "d=example.com s=mf1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInvalidConfigs(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	for _, tc := range []struct {
		file string
		want []string // each must appear in one problem line
	}{
		{"base.toml", nil},
		{"invalid-missing-env.toml", []string{"invalid-missing-env.toml:5: paths.sub.password_env: MF_TEST_UNSET is not set (export it, or use password_file)"}},
		{"invalid-inline-password.toml", []string{"invalid-inline-password.toml:3: seeds.s1.password: secrets are never read from the config file"}},
		{"invalid-unknown-key.toml", []string{`invalid-unknown-key.toml:4: paths.p.securty: unknown key (did you mean "security"?)`}},
		{"invalid-values.toml", []string{
			"invalid-values.toml:3: paths.p.port: 70000 is not a TCP port",
			`invalid-values.toml:4: paths.p.security: "ssl" is not one of none, starttls, tls`,
			`invalid-values.toml:5: paths.p.mail_from: "not-an-address" is not an address`,
			`invalid-values.toml:6: paths.p.timeout: "soon" is not a duration`,
			`invalid-values.toml:13: checks.c.paths: no path named "nope" (declared: p)`,
			`invalid-values.toml:14: checks.c.seeds: no seed named "ghost"`,
			"invalid-values.toml:16: checks.c.poll_interval: 2m0s must be positive and shorter than the deadline (1m0s)",
		}},
		{"invalid-duplicate-seed.toml", []string{`list-dup.toml:5: seeds.s1: seed "s1" is also declared in testdata/invalid-duplicate-seed.toml:8`}},
		{"invalid-syntax.toml", []string{"invalid-syntax.toml:4:"}},
		{"invalid-schedule.toml", []string{
			`invalid-schedule.toml:12: checks.hourly.schedule: "0 * * *": expected 5 to 6 fields`,
			"invalid-schedule.toml:13: checks.hourly.jitter: must not be negative",
		}},
		{"invalid-provider.toml", []string{`invalid-provider.toml:7: seeds.s1.provider: "nosuch" is not in the provider catalog`}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.file))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load = %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want problems")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load error %T, want Errors", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("problems lack %q; got:\n%s", w, msg)
				}
			}
			if len(tc.want) > 1 && len(errs) < len(tc.want) {
				t.Errorf("got %d problems, want at least %d reported at once", len(errs), len(tc.want))
			}
			if strings.Contains(msg, testPassword) || strings.Contains(msg, "hunter2-inline") {
				t.Errorf("a problem shows a secret:\n%s", msg)
			}
		})
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), []byte(testPassword+"\n"))
	cfg := strings.Replace(readFile(t, "testdata/base.toml"), `password_env = "MF_TEST_PW"`, `password_file = "pw"`, -1)
	writeFile(t, filepath.Join(dir, "c.toml"), []byte(cfg))
	c, err := Load(filepath.Join(dir, "c.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Seeds["s1"].Password; got.Reveal() != testPassword || got.Source() != "file:"+filepath.Join(dir, "pw") {
		t.Errorf("password from file = %q (%s), want the file's first line", got.Reveal(), got.Source())
	}
}

func TestSecretNeverFormats(t *testing.T) {
	s := NewSecret(testPassword, "env:X")
	for _, got := range []string{s.String(), s.GoString(), s.LogValue().String(), fmtAll(s)} {
		if strings.Contains(got, testPassword) {
			t.Errorf("secret formatted as %q", got)
		}
	}
}

func TestCatalog(t *testing.T) {
	var cat rawCatalog
	if err := toml.Unmarshal(seeds.Providers, &cat); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"gmail", "outlook", "yahoo", "aol", "icloud", "fastmail", "zoho", "gmx", "yandex", "proton", "generic"} {
		p, ok := cat.Providers[id]
		if !ok {
			t.Errorf("catalog lacks %s", id)
			continue
		}
		if len(p.JunkFolders) == 0 || p.Name == "" || p.Notes == "" {
			t.Errorf("%s: name %q junk %v notes %q, want all set", id, p.Name, p.JunkFolders, p.Notes)
		}
		if id != "generic" && p.IMAPHost == "" {
			t.Errorf("%s has no imap_host", id)
		}
	}
}

func fmtAll(s Secret) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		b.WriteString(fmt.Sprintf(verb, s))
	}
	return b.String()
}

func testKey(t *testing.T) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
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
