package config

import (
	"bytes"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// oauthBase is what every OAuth2 test config shares: a check over seed s1
// and path p, which the test declares.
const oauthBase = `
[store]
path = "/var/lib/mailflow/mailflow.db"

[checks.c]
paths = ["p"]
seeds = ["s1"]
`

const clientSecret = "client-secret-never-printed"

func loadString(t *testing.T, doc string) (*Config, error) {
	t.Helper()
	return load(filepath.Join("testdata", "oauth.toml"), []byte(oauthBase+doc))
}

func TestOAuthConfigResolves(t *testing.T) {
	t.Setenv("MF_TEST_CLIENT_SECRET", clientSecret)
	c, err := loadString(t, `
[oauth.google]
client_id = "gid.apps.googleusercontent.com"
client_secret_env = "MF_TEST_CLIENT_SECRET"

[oauth.microsoft]
client_id = "ms-app"
tenant = "contoso.onmicrosoft.com"

[paths.p]
host = "smtp.office365.com"
security = "starttls"
username = "monitor@contoso.example"
auth = "oauth2"
oauth_provider = "microsoft"
oauth_client_id = "ms-path-app"
auth_mechanism = "xoauth2"
mail_from = "monitor@contoso.example"

[seeds.s1]
address = "seed1@gmail.com"
auth = "oauth2"
`)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if want := "/var/lib/mailflow/mailflow-tokens.json"; c.OAuth.TokenFile != want {
		t.Errorf("token file = %q, want %q (beside the database)", c.OAuth.TokenFile, want)
	}
	s := c.Seeds["s1"]
	if !s.UsesOAuth() || s.OAuthProvider != "google" || s.OAuth == nil {
		t.Fatalf("seed s1: oauth %v via %q (%v), want oauth2 via google, from the gmail provider", s.UsesOAuth(), s.OAuthProvider, s.OAuth)
	}
	g := s.OAuth
	if g.TokenURL != "https://oauth2.googleapis.com/token" || !slices.Equal(g.Scopes, []string{"https://mail.google.com/"}) ||
		g.ClientID != "gid.apps.googleusercontent.com" || g.ClientSecret.Reveal() != clientSecret || g.AuthParams["access_type"] != "offline" {
		t.Errorf("google profile of s1 = %+v", g)
	}
	p := c.Paths["p"]
	m := p.OAuth
	if m == nil || m.ClientID != "ms-path-app" ||
		m.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" ||
		m.DeviceURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode" ||
		!slices.Contains(m.Scopes, "https://outlook.office.com/SMTP.Send") || !slices.Contains(m.Scopes, "offline_access") {
		t.Errorf("microsoft profile of path p = %+v", m)
	}
	if c.OAuth.Profiles["microsoft"].ClientID != "ms-app" {
		t.Error("the path's oauth_client_id changed the shared profile")
	}
	var out bytes.Buffer
	c.Print(&out)
	for _, want := range []string{"oauth2 via google", "XOAUTH2 as monitor@contoso.example, oauth2 via microsoft",
		"oauth2 token file", "/var/lib/mailflow/mailflow-tokens.json", "****** (from env:MF_TEST_CLIENT_SECRET)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print does not show %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), clientSecret) {
		t.Errorf("Print shows the client secret:\n%s", out.String())
	}
}

func TestOAuthTokenFileKey(t *testing.T) {
	c, err := loadString(t, `
[oauth]
token_file = "state/tokens.json"

[oauth.google]
client_id = "gid"

[paths.p]
host = "smtp.gmail.com"
mail_from = "m@gmail.com"

[seeds.s1]
address = "seed1@gmail.com"
auth = "oauth2"
`)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("testdata", "state", "tokens.json"); c.OAuth.TokenFile != want {
		t.Errorf("token file = %q, want %q (relative to the config)", c.OAuth.TokenFile, want)
	}
}

func TestOAuthConfigProblems(t *testing.T) {
	t.Setenv("MF_TEST_PW", testPassword)
	const path = `
[paths.p]
host = "smtp.example.com"
mail_from = "m@example.com"
`
	const googleClient = `
[oauth.google]
client_id = "gid"
`
	for _, tc := range []struct {
		name, doc string
		want      []string // problems, each a line's start after "testdata/oauth.toml:"
	}{
		{"password with oauth2", path + googleClient + `
[seeds.s1]
address = "seed1@gmail.com"
auth = "oauth2"
password_env = "MF_TEST_PW"
`, []string{`19: seeds.s1.password_env: auth = "oauth2" logs in with a token from the token file, not a password (drop password_env and password_file, or set auth = "password")`}},
		{"unknown profile", path + `
[seeds.s1]
address = "seed1@yahoo.com"
auth = "oauth2"
oauth_provider = "yahoo"
`, []string{`16: seeds.s1.oauth_provider: "yahoo" is not an OAuth2 profile (use "google" or "microsoft", or add [oauth.yahoo] with token_url, scopes and client_id)`}},
		{"no profile for the provider", path + `
[seeds.s1]
address = "seed1@example.net"
imap_host = "imap.example.net"
auth = "oauth2"
`, []string{`13: seeds.s1.oauth_provider: missing, and the seed's provider names no OAuth2 profile (set oauth_provider = "google" or "microsoft")`}},
		{"no client id", path + `
[seeds.s1]
address = "seed1@outlook.com"
auth = "oauth2"
`, []string{`13: seeds.s1.oauth_provider: profile "microsoft" has no client_id (register an OAuth client with Microsoft (Entra ID: Microsoft 365 and Outlook.com) and set client_id in [oauth.microsoft], or oauth_client_id here)`}},
		{"oauth key without oauth2", path + `
[seeds.s1]
address = "seed1@example.net"
imap_host = "imap.example.net"
password_env = "MF_TEST_PW"
oauth_provider = "google"
`, []string{`17: seeds.s1.oauth_provider: applies only with auth = "oauth2" (add auth = "oauth2", or drop oauth_provider)`}},
		{"unknown auth", path + `
[seeds.s1]
address = "seed1@example.net"
imap_host = "imap.example.net"
password_env = "MF_TEST_PW"
auth = "token"
`, []string{`17: seeds.s1.auth: "token" is not one of password, oauth2`}},
		{"path without username, with a password mechanism", googleClient + `
[paths.p]
host = "smtp.gmail.com"
mail_from = "m@gmail.com"
auth = "oauth2"
oauth_provider = "google"
auth_mechanism = "plain"

[seeds.s1]
address = "seed1@example.net"
imap_host = "imap.example.net"
password_env = "MF_TEST_PW"
`, []string{
			`12: paths.p.username: missing (the account the OAuth2 token is for, e.g. monitor@example.com)`,
			`17: paths.p.auth_mechanism: "plain" sends a password; with auth = "oauth2" use oauthbearer or xoauth2`,
			`17: paths.p.auth_mechanism: set without a username`,
		}},
		{"profile keys", `
[oauth]
tokenfile = "x.json"

[oauth.google]
client_id = "gid"
clientid = "x"
client_secret = "inline"

[oauth.corp]
token_url = "http://idp.corp.example/token"
scopes = ["imap"]
client_id = "mailflow"
` + path + `
[seeds.s1]
address = "seed1@example.net"
imap_host = "imap.example.net"
password_env = "MF_TEST_PW"
`, []string{
			`10: oauth.tokenfile: unknown key (the [oauth] table takes token_file and [oauth.ID] profile tables)`,
			`14: oauth.google.clientid: unknown key (did you mean "client_id"?)`,
			`15: oauth.google.client_secret: secrets are never read from the config file (use client_secret_env or client_secret_file)`,
			`17: oauth.corp.authorization_url: missing, and no device_authorization_url either`,
			`18: oauth.corp.token_url: "http://idp.corp.example/token" is not an https URL`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, tc.doc)
			if err == nil {
				t.Fatal("loaded, want problems")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %d:\n%s", err, len(tc.want), strings.Join(tc.want, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], "testdata/oauth.toml:"+w) {
					t.Errorf("problem %d = %s\nwant        testdata/oauth.toml:%s", i, got[i], w)
				}
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), "inline\"") {
				t.Errorf("a problem shows a secret: %v", err)
			}
		})
	}
}

// TestOAuthKeysDocumented keeps config.example.toml and the catalog's header
// complete for the keys of oauth.go, which TestExampleDocumentsEveryKey
// cannot reach (an embedded struct, and a table decoded on its own).
func TestOAuthKeysDocumented(t *testing.T) {
	example := readFile(t, "../../config.example.toml")
	catalog := readFile(t, "../../seeds/providers.toml")
	for _, typ := range []reflect.Type{reflect.TypeFor[rawLogin](), reflect.TypeFor[rawOAuthProfile]()} {
		for i := range typ.NumField() {
			tag := tomlTag(typ.Field(i))
			if tag == "client_secret" {
				continue // refused, never suggested
			}
			re := regexp.MustCompile(`\b` + regexp.QuoteMeta(tag) + `\b`)
			if !re.MatchString(example) {
				t.Errorf("config.example.toml does not document %s", tag)
			}
			if typ == reflect.TypeFor[rawOAuthProfile]() && !strings.HasPrefix(tag, "client_") && tag != "name" && !re.MatchString(catalog) {
				t.Errorf("seeds/providers.toml does not document %s", tag)
			}
		}
	}
}

func TestOAuthSuggestsEmbeddedKeys(t *testing.T) {
	if got := suggest(reflect.TypeFor[rawFile](), []string{"seeds", "s", "oauth_provder"}); !strings.Contains(got, `"oauth_provider"`) {
		t.Errorf("suggest(oauth_provder) = %q, want oauth_provider", got)
	}
}
