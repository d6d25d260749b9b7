package oauth

import (
	"sort"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/oauth/bearer"
)

// ProfileOf returns the profile a loaded configuration resolved for a seed
// or path.
func ProfileOf(p *config.OAuthProfile) Profile {
	return Profile{
		ID: p.ID, AuthURL: p.AuthURL, TokenURL: p.TokenURL, DeviceURL: p.DeviceURL,
		Scopes: p.Scopes, AuthParams: p.AuthParams, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
	}
}

// Accounts returns every seed and path of cfg that logs in with OAuth2, seeds
// first, each by name. Login is the bare name unless a seed and a path share
// it; then it is "seeds.NAME" or "paths.NAME".
func Accounts(cfg *config.Config) []Account {
	var out []Account
	for _, name := range sortedKeys(cfg.Seeds) {
		s := cfg.Seeds[name]
		if s.OAuth != nil {
			out = append(out, Account{Kind: "seed", Name: name, Login: loginName(cfg, "seed", name), Username: s.Username, Profile: ProfileOf(s.OAuth)})
		}
	}
	for _, name := range sortedKeys(cfg.Paths) {
		p := cfg.Paths[name]
		if p.OAuth != nil {
			out = append(out, Account{Kind: "path", Name: name, Login: loginName(cfg, "path", name), Username: p.Username, Profile: ProfileOf(p.OAuth)})
		}
	}
	return out
}

func loginName(cfg *config.Config, kind, name string) string {
	_, seed := cfg.Seeds[name]
	_, path := cfg.Paths[name]
	if seed && path {
		return kind + "s." + name
	}
	return name
}

// Find returns the accounts that `mailflow auth login NAME` means: the seed
// or path called name, or the one "seeds.NAME" or "paths.NAME" names.
func Find(cfg *config.Config, name string) []Account {
	var out []Account
	for _, a := range Accounts(cfg) {
		if a.Login == name || a.Key() == name {
			out = append(out, a)
		}
	}
	return out
}

// Tokens holds the token sources of a configuration's OAuth2 seeds and
// paths, sharing one token file, so that each account has one Source (and
// so one refresh at a time) in the process.
type Tokens struct {
	File    *File
	sources map[string]*Source // by Account.Key
}

// NewTokens makes the sources of every OAuth2 account of cfg.
func NewTokens(cfg *config.Config, opts Options) *Tokens {
	t := &Tokens{File: OpenFile(cfg.OAuth.TokenFile), sources: map[string]*Source{}}
	for _, a := range Accounts(cfg) {
		t.sources[a.Key()] = NewSource(a, t.File, opts)
	}
	return t
}

// Seed returns the token source of the seed called name, or nil (a nil
// interface) when it logs in with a password.
func (t *Tokens) Seed(name string) bearer.TokenSource { return t.source("seeds." + name) }

// Path returns the token source of the path called name, or nil.
func (t *Tokens) Path(name string) bearer.TokenSource { return t.source("paths." + name) }

func (t *Tokens) source(key string) bearer.TokenSource {
	if t == nil {
		return nil
	}
	if s := t.sources[key]; s != nil {
		return s
	}
	return nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
