package config

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/seeds"
)

func TestBuiltinCatalog(t *testing.T) {
	cat, err := Catalog(BuiltinCatalog, seeds.Providers)
	if err != nil {
		t.Fatalf("Catalog(%s) = %v", BuiltinCatalog, err)
	}
	for _, id := range []string{"gmail", "outlook", "yahoo", "aol", "icloud", "fastmail", "zoho", "gmx", "yandex", "proton", "generic"} {
		p, ok := cat[id]
		if !ok {
			t.Errorf("catalog lacks %s", id)
			continue
		}
		if len(p.JunkFolders) == 0 || p.Name == "" || p.Notes == "" || p.Line == 0 || p.Source != BuiltinCatalog {
			t.Errorf("%s: name %q junk %v notes %q at %s:%d, want all set", id, p.Name, p.JunkFolders, p.Notes, p.Source, p.Line)
		}
		if id != GenericProvider && (p.IMAPHost == "" || p.IMAPPort == 0 || p.IMAPSecurity == "" || len(p.Domains) == 0) {
			t.Errorf("%s: imap %s:%d %s domains %v, want all set", id, p.IMAPHost, p.IMAPPort, p.IMAPSecurity, p.Domains)
		}
	}
	// Microsoft writes mx.microsoft.com only in ARC-Authentication-Results; an
	// Authentication-Results field bearing it was written by someone else.
	for id, want := range map[string]string{"gmail": "mx.google.com", "outlook": ""} {
		if got := strings.Join(cat[id].AuthservIDs, ","); got != want {
			t.Errorf("%s authserv_ids = %s, want %s", id, got, want)
		}
	}
	if !cat["outlook"].TrustTopmostWithoutID || cat["gmail"].TrustTopmostWithoutID {
		t.Error("outlook must trust its topmost id-less field, gmail must not")
	}
	if got := cat["generic"].AuthservIDs; len(got) != 0 {
		t.Errorf("generic authserv_ids = %v, want none: trust is added per seed", got)
	}
	// The catalog passes the checks a config's providers get.
	c := &Config{Providers: cat, keyLines: map[string]lines{}}
	var errs []error
	c.validateProviders(func(file string) problems { return problems{file: file, errs: &errs} })
	if len(errs) > 0 {
		t.Errorf("built-in catalog problems:\n%v", Errors(errs))
	}
}

func TestCatalogProblems(t *testing.T) {
	_, err := Catalog("my-providers.toml", []byte("[providers.x]\nname = \"X\"\nimap_prot = 993\n"))
	if want := `my-providers.toml:3: providers.x.imap_prot: unknown key (did you mean "imap_port"?)`; err == nil || err.Error() != want {
		t.Errorf("Catalog = %v, want %q", err, want)
	}
}

func TestProviderDefault(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	for _, tc := range []struct {
		seedKeys string
		provider string
		imap     string
		junk0    string
	}{
		{`address = "a@gmail.com"`, "gmail", "imap.gmail.com:993", "[Gmail]/Spam"},
		{`address = "a@GoogleMail.com"`, "gmail", "imap.gmail.com:993", "[Gmail]/Spam"},
		{`address = "a@hotmail.com"`, "outlook", "outlook.office365.com:993", "Junk Email"},
		{`address = "a@yahoo.com"`, "yahoo", "imap.mail.yahoo.com:993", "Bulk"},
		{`address = "a@icloud.com"`, "icloud", "imap.mail.me.com:993", "Junk"},
		{`address = "a@proton.me"`, "proton", "127.0.0.1:1143", "Spam"},
		{"address = \"a@example.org\"\nimap_host = \"imap.example.org\"", "generic", "imap.example.org:993", "Junk"},
		// An explicit provider wins over the domain.
		{"address = \"a@corp.example\"\nprovider = \"outlook\"", "outlook", "outlook.office365.com:993", "Junk Email"},
		// A seed's own host keeps the provider's folders, not its port.
		{"address = \"a@gmail.com\"\nimap_host = \"127.0.0.1\"\nimap_security = \"starttls\"", "gmail", "127.0.0.1:143", "[Gmail]/Spam"},
	} {
		t.Run(tc.seedKeys, func(t *testing.T) {
			cfg := strings.Replace(readFile(t, "testdata/base.toml"), `address = "s1@gmail.com"`, tc.seedKeys, 1)
			path := filepath.Join(t.TempDir(), "c.toml")
			writeFile(t, path, []byte(cfg))
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			s := c.Seeds["s1"]
			if got := s.Provider.ID; got != tc.provider {
				t.Errorf("provider = %s, want %s", got, tc.provider)
			}
			if got := s.IMAPHost + ":" + strconv.Itoa(s.IMAPPort); got != tc.imap {
				t.Errorf("imap = %s, want %s", got, tc.imap)
			}
			if got := s.Provider.JunkFolders[0]; got != tc.junk0 {
				t.Errorf("first junk folder = %s, want %s", got, tc.junk0)
			}
		})
	}
}

func TestProvidersMerge(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "extra.toml"), []byte(`
[providers.gmail]
junk_folders = ["[Gmail]/Spam", "Spam"]

[providers.corp]
name = "Corp"
domains = ["corp.example"]
imap_host = "imap.corp.example"
`))
	cfg := "providers_file = \"extra.toml\"\n\n[providers.gmail]\nmax_connections = 10\n\n" +
		strings.Replace(readFile(t, "testdata/base.toml"), "[checks.c]", "[seeds.s2]\naddress = \"s2@corp.example\"\npassword_env = \"MF_TEST_PW\"\n\n[checks.c]", 1)
	writeFile(t, filepath.Join(dir, "c.toml"), []byte(cfg))
	c, err := Load(filepath.Join(dir, "c.toml"))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Providers["gmail"]
	if got := strings.Join(g.JunkFolders, ","); got != "[Gmail]/Spam,Spam" || g.IMAPHost != "imap.gmail.com" || g.MaxConnections != 10 || len(g.AuthservIDs) != 1 {
		t.Errorf("gmail = junk %s host %s max %d ids %v, want the file's junk folders, the config's max and the built-in rest",
			got, g.IMAPHost, g.MaxConnections, g.AuthservIDs)
	}
	if s := c.Seeds["s2"]; s.Provider.ID != "corp" || s.IMAPHost != "imap.corp.example" || s.IMAPPort != 993 {
		t.Errorf("s2 = provider %s at %s:%d, want corp at imap.corp.example:993", s.Provider.ID, s.IMAPHost, s.IMAPPort)
	}
}
