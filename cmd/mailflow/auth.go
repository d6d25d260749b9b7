package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/oauth"
)

// authCmd is `mailflow auth login NAME` and `mailflow auth status`: OAuth2
// logins of the seeds and paths with auth = "oauth2".
func authCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "login":
			return authLoginCmd(ctx, args[1:], stdout, stderr)
		case "status":
			return authStatusCmd(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "mailflow auth: use \"login NAME\" or \"status\" (mailflow auth login NAME [--device | --no-browser], mailflow auth status)")
	return exitUsage
}

// authLoginCmd logs one seed or path in and stores its refresh token.
func authLoginCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("auth login", stderr)
	device := fs.Bool("device", false, "log in with a code shown here and approved on any device (RFC 8628), instead of a browser here")
	noBrowser := fs.Bool("no-browser", false, "print the login URL instead of opening a browser")
	wait := fs.Duration("timeout", 10*time.Minute, "how long to wait for the login to be approved")
	c := commonFlags(fs, "warn", false)
	names, cfg, log, code, ok := c.startArgs(args, stderr)
	if !ok {
		return code
	}
	switch len(names) {
	case 0:
		fmt.Fprintln(stderr, "mailflow auth login: name the seed or path to log in (mailflow auth login NAME)")
		return exitUsage
	case 1:
	default:
		fmt.Fprintf(stderr, "mailflow auth login: one seed or path at a time (got %s)\n", strings.Join(names, ", "))
		return exitUsage
	}
	name := names[0]
	acct, err := findAccount(cfg, name)
	if err != nil {
		fmt.Fprintf(stderr, "mailflow auth login: %v\n", err)
		return exitUsage
	}
	l := &oauth.Login{Account: acct, File: oauth.OpenFile(cfg.OAuth.TokenFile), Options: oauth.Options{Log: log}}
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	if *device {
		err = l.Device(ctx, func(dc oauth.DeviceCode) {
			fmt.Fprintf(stderr, "To log in %s, open %s\nand enter the code %s", acct.Label(), dc.VerificationURI, dc.UserCode)
			if !dc.ExpiresAt.IsZero() {
				fmt.Fprintf(stderr, " before %s", dc.ExpiresAt.Local().Format("15:04"))
			}
			fmt.Fprintln(stderr, ".")
			if dc.VerificationURIComplete != "" {
				fmt.Fprintf(stderr, "Or open %s\n", dc.VerificationURIComplete)
			}
			fmt.Fprintln(stderr, "Waiting for the approval...")
		})
	} else {
		err = l.Browser(ctx, func(authURL string) {
			fmt.Fprintf(stderr, "To log in %s, open this address in a browser on this machine:\n\n  %s\n\n", acct.Label(), authURL)
			if !*noBrowser {
				if err := openBrowser(authURL); err != nil {
					fmt.Fprintf(stderr, "(could not start a browser: %v; open the address yourself, or use --device)\n", err)
				}
			}
			fmt.Fprintln(stderr, "Waiting for the browser to come back to mailflow...")
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailflow auth login: %v\n", err)
		return exitFailed
	}
	st, _, err := l.File.Status(acct.Key())
	if err != nil {
		fmt.Fprintf(stderr, "mailflow auth login: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s logged in with %s: refresh token stored in %s; scopes %s; access token valid until %s\n",
		acct.Label(), acct.Profile.ID, l.File.Path(), strings.Join(st.Scopes, " "), when(st.ValidUntil))
	return exitOK
}

// findAccount returns the OAuth2 account `auth login NAME` means, or says
// why there is none.
func findAccount(cfg *config.Config, name string) (oauth.Account, error) {
	found := oauth.Find(cfg, name)
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return oauth.Account{}, fmt.Errorf("%s is both a seed and a path: run mailflow auth login seeds.%s or paths.%s", name, name, name)
	}
	if s := cfg.Seeds[name]; s != nil {
		return oauth.Account{}, fmt.Errorf("seed %s logs in with a password (set auth = \"oauth2\" in [seeds.%s] to log it in with OAuth2)", name, name)
	}
	if p := cfg.Paths[name]; p != nil {
		return oauth.Account{}, fmt.Errorf("path %s logs in with a password (set auth = \"oauth2\" in [paths.%s] to log it in with OAuth2)", name, name)
	}
	var names []string
	for _, a := range oauth.Accounts(cfg) {
		names = append(names, a.Login)
	}
	if len(names) == 0 {
		return oauth.Account{}, fmt.Errorf("no seed or path %q, and none logs in with OAuth2 (set auth = \"oauth2\" on one)", name)
	}
	return oauth.Account{}, fmt.Errorf("no seed or path %q logs in with OAuth2 (those that do: %s)", name, strings.Join(names, ", "))
}

// openBrowser starts the system's browser on u.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// authStatusCmd shows each OAuth2 account's token state, never a token. It
// exits 1 when an account is not logged in or its last refresh failed.
func authStatusCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("auth status", stderr)
	cfg, _, code, ok := commonFlags(fs, "", false).start(args, stderr)
	if !ok {
		return code
	}
	accts := oauth.Accounts(cfg)
	if len(accts) == 0 {
		fmt.Fprintln(stdout, "no seed or path logs in with OAuth2 (auth = \"oauth2\")")
		return exitOK
	}
	file := oauth.OpenFile(cfg.OAuth.TokenFile)
	fmt.Fprintf(stdout, "token file %s\n\n", file.Path())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tPROVIDER\tSTATE\tVALID UNTIL\tSCOPES\tLAST REFRESH\tLAST ERROR")
	problem := false
	for _, a := range accts {
		st, _, err := file.Status(a.Key())
		if err != nil {
			tw.Flush()
			fmt.Fprintf(stderr, "mailflow auth status: %v\n", err)
			return exitFailed
		}
		state := "logged in"
		if !st.LoggedIn {
			state, problem = "not logged in (mailflow auth login "+a.Login+")", true
		}
		lastErr := "-"
		if e := st.LastError; e != nil {
			lastErr, problem = fmt.Sprintf("%s %s: %s", when(e.At), or(e.Code, e.Op), or(e.Description, e.Message)), true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Login, a.Kind, a.Profile.ID, state, when(st.ValidUntil),
			or(strings.Join(st.Scopes, " "), "-"), when(st.LastRefresh), lastErr)
	}
	tw.Flush()
	if problem {
		return exitProblem
	}
	return exitOK
}

// when formats an instant for a table, "-" when unknown.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
