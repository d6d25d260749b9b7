package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/oauth"
	"github.com/mailflow/mailflow/internal/oauth/bearer"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/seedbox"
)

// seedsCmd is the seed-list health check: it logs in to every seed and shows
// its folders, their roles and the probe messages left in them.
func seedsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("seeds", stderr)
	stale := fs.Duration("stale-after", time.Hour, "count probe messages older than this as stale")
	cfg, log, code, ok := commonFlags(fs, "warn", false).start(args, stderr)
	if !ok {
		return code
	}
	r := &runner.Runner{Log: log}
	defer r.Close()
	withPassword, withOAuth := splitSeeds(cfg)
	results := append(r.CheckSeeds(ctx, withPassword, *stale), checkOAuthSeeds(ctx, cfg, withOAuth, *stale, log)...)
	sort.Slice(results, func(i, j int) bool { return results[i].Seed.Name < results[j].Seed.Name })
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEED\tADDRESS\tSTATUS\tLOGIN\tFOLDERS\tPROBE MESSAGES (STALE)\tCAPABILITIES")
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\n", r.Seed.Name, r.Seed.Address, failure(r.Err))
			continue
		}
		var folders, probes []string
		for _, f := range r.Health.Folders {
			folders = append(folders, fmt.Sprintf("%s=%s", f.Name, f.Role))
			if f.Role != "other" {
				probes = append(probes, fmt.Sprintf("%s %d (%d)", f.Name, f.Probes, f.Stale))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\tok\t%s\t%s\t%s\t%s\n", r.Seed.Name, r.Seed.Address, r.Health.Login.Round(time.Millisecond),
			strings.Join(folders, " "), strings.Join(probes, ", "), strings.Join(r.Health.Caps, " "))
	}
	tw.Flush()
	if failed == 0 {
		return exitOK
	}
	fmt.Fprintf(stderr, "\n%d of %d seeds failed:\n", failed, len(results))
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(stderr, "  %s (%s): %v\n", r.Seed.Name, r.Seed.Source, r.Err)
		}
	}
	return exitFailed
}

// failure is the STATUS of a seed that failed: an OAuth2 failure names the
// provider's error code, or says the server refused the token.
func failure(err error) string {
	var oe *oauth.Error
	var re *bearer.RefusedError
	switch {
	case errors.As(err, &oe) && oe.Code != "":
		return "FAILED oauth2 " + oe.Code
	case errors.As(err, &oe):
		return "FAILED oauth2"
	case errors.As(err, &re):
		return "FAILED oauth2 token refused"
	}
	return "FAILED"
}

// splitSeeds returns cfg with only its password seeds, and the names of the
// seeds that log in with OAuth2.
func splitSeeds(cfg *config.Config) (*config.Config, []string) {
	pw := *cfg
	pw.Seeds = map[string]*config.Seed{}
	var withOAuth []string
	for name, s := range cfg.Seeds {
		if s.UsesOAuth() {
			withOAuth = append(withOAuth, name)
		} else {
			pw.Seeds[name] = s
		}
	}
	sort.Strings(withOAuth)
	return &pw, withOAuth
}

// checkOAuthSeeds is CheckSeeds for the seeds that log in with OAuth2, one
// after another within the bound of connections per host, each with the
// token source of the token file.
//
// The runner builds no token source yet (its accounts carry passwords only),
// so the seeds command reaches these seeds itself; once the runner sets
// seedbox.Account.Tokens, this goes.
func checkOAuthSeeds(ctx context.Context, cfg *config.Config, names []string, staleAfter time.Duration, log *slog.Logger) []runner.SeedHealth {
	if len(names) == 0 {
		return nil
	}
	tokens := oauth.NewTokens(cfg, oauth.Options{Log: log})
	limiter := seedbox.NewLimiter(max(cfg.IMAP.ConnectionsPerHost, 1))
	staleBefore := time.Now().UTC().Add(-staleAfter)
	var out []runner.SeedHealth
	for _, name := range names {
		s := cfg.Seeds[name]
		h := runner.SeedHealth{Seed: s}
		acct, err := oauthAccount(s, tokens.Seed(name), limiter)
		if err == nil {
			h.Health, err = seedbox.Inspect(ctx, acct, staleBefore, log)
		}
		h.Err = err
		out = append(out, h)
	}
	return out
}

// oauthAccount is how a seed that logs in with OAuth2 is reached: runner's
// account, with a token source instead of a password.
func oauthAccount(s *config.Seed, ts bearer.TokenSource, limiter *seedbox.Limiter) (seedbox.Account, error) {
	if ts == nil {
		return seedbox.Account{}, fmt.Errorf("seed %s: no OAuth2 profile resolved", s.Name)
	}
	var roots *x509.CertPool
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return seedbox.Account{}, fmt.Errorf("seed %s: ca_file: %w", s.Name, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return seedbox.Account{}, fmt.Errorf("seed %s: ca_file: %s holds no PEM certificate", s.Name, s.CAFile)
		}
	}
	acct := seedbox.Account{
		Name: s.Name, Host: s.IMAPHost, Port: s.IMAPPort, Security: string(s.IMAPSecurity),
		TLSConfig: &tls.Config{RootCAs: roots, ServerName: s.TLSServerName},
		Username:  s.Username, Tokens: ts, AllowPlaintextAuth: s.AllowPlaintextAuth,
		Inbox: s.Inbox, Junk: s.Junk, Extra: s.Folders, Cleanup: s.Cleanup, NoIDLE: s.NoIDLE, Limiter: limiter,
	}
	if p := s.Provider; p != nil {
		acct.JunkNames, acct.IMAPID = p.JunkFolders, p.IMAPID
	}
	return acct, nil
}
