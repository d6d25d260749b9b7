package config

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes what the configuration resolved to — store, paths, seeds with
// their provider and folders, seed lists, the providers in use, checks — as
// aligned tables. Every secret is masked: only where it comes from is shown.
func (c *Config) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "config\t%s\n", orNone(c.File))
	fmt.Fprintf(tw, "store\t%s\n", c.Store.Path)
	h := c.Housekeeping
	fmt.Fprintf(tw, "housekeeping\tkeep probes %s, purge leftover probe messages after %s, every %s\n",
		human(h.Retention), human(h.PurgeAfter), human(h.Interval))
	fmt.Fprintf(tw, "imap	at most %d connections per host\n", c.IMAP.ConnectionsPerHost)

	for _, name := range sorted(c.Paths) {
		p := c.Paths[name]
		sec := string(p.Security)
		if p.Security == SecurityNone {
			sec += ", starttls " + p.StartTLS
		}
		fmt.Fprintf(tw, "\npath %s\n", name)
		fmt.Fprintf(tw, "  endpoint\t%s:%d %s\n", p.Host, p.Port, sec)
		if p.TLSServerName != "" || p.CAFile != "" {
			fmt.Fprintf(tw, "  tls\tserver name %s, CAs %s\n", or(p.TLSServerName, p.Host), or(p.CAFile, "(system)"))
		}
		if p.Username == "" {
			fmt.Fprintf(tw, "  auth\tnone\n")
		} else if p.UsesOAuth() {
			fmt.Fprintf(tw, "  auth\t%s as %s, %s\n", or(strings.ToUpper(p.AuthMechanism), "OAUTHBEARER or XOAUTH2"), p.Username, p.OAuthLogin.describe())
		} else {
			fmt.Fprintf(tw, "  auth\t%s as %s, password %s", or(strings.ToUpper(p.AuthMechanism), "PLAIN or LOGIN"), p.Username, p.Password)
			if p.AllowPlaintextAuth {
				fmt.Fprint(tw, ", allowed without TLS")
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "  helo\t%s\n", p.HELO)
		fmt.Fprintf(tw, "  mail from\t%s\n", p.MailFrom)
		fmt.Fprintf(tw, "  from\t%s\n", p.From)
		if d := p.DKIM; d != nil {
			fmt.Fprintf(tw, "  dkim\td=%s s=%s, key %s\n", d.Domain, d.Selector, d.Key)
		}
		fmt.Fprintf(tw, "  timeout\t%s\n", human(p.Timeout))
	}

	// A blank line ends a tabwriter block, so each table aligns on its own.
	fmt.Fprintln(tw, "\nSEED\tADDRESS\tDECLARED IN\tPROVIDER\tIMAP\tLOGIN\tFOLDERS\tTRUSTED AUTHSERV-IDS\tCLEANUP")
	used := map[string]*Provider{}
	for _, name := range sorted(c.Seeds) {
		s := c.Seeds[name]
		provider := "?"
		if s.Provider != nil {
			provider, used[s.Provider.ID] = s.Provider.ID, s.Provider
		}
		login := s.Password.String()
		if s.UsesOAuth() {
			login = s.OAuthLogin.describe()
		}
		if s.Username != s.Address {
			login = s.Username + " / " + login
		}
		cleanup := "yes"
		if !s.Cleanup {
			cleanup = "no"
		}
		trust := s.TrustedAuthservIDs()
		if s.Provider != nil && s.Provider.TrustTopmostWithoutID {
			trust = append(trust, "(topmost field without id)")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s:%d\t%s\t%s:%d %s\t%s\t%s\t%s\t%s\n", name, s.Address, c.rel(s.Source), s.Line,
			provider, s.IMAPHost, s.IMAPPort, s.IMAPSecurity, login, folders(s),
			orNone(strings.Join(trust, " ")), cleanup)
	}

	if len(c.SeedLists) > 0 {
		fmt.Fprintln(tw, "\nSEED LIST\tFILE\tSEEDS")
		for _, name := range sorted(c.SeedLists) {
			l := c.SeedLists[name]
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, c.rel(l.File), orNone(strings.Join(l.Seeds, ",")))
		}
	}

	c.printOAuth(tw)

	fmt.Fprintln(tw, "\nPROVIDER\tNAME\tIMAP\tJUNK FOLDERS\tAUTHSERV-IDS\tMAX CONNECTIONS")
	for _, id := range sorted(used) {
		p := used[id]
		imap := "-"
		if p.IMAPHost != "" {
			imap = fmt.Sprintf("%s:%d", p.IMAPHost, p.IMAPPort)
		}
		conns := "?"
		if p.MaxConnections > 0 {
			conns = fmt.Sprint(p.MaxConnections)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, p.Name, imap, orNone(quoteAll(p.JunkFolders)),
			orNone(strings.Join(p.AuthservIDs, " ")), conns)
	}

	for _, name := range sorted(c.Checks) {
		ch := c.Checks[name]
		fmt.Fprintf(tw, "\ncheck %s\n", name)
		fmt.Fprintf(tw, "  schedule\t%s", or(ch.Schedule, "none (run by hand)"))
		if ch.Jitter > 0 {
			fmt.Fprintf(tw, ", jitter up to %s", human(ch.Jitter))
		}
		fmt.Fprintln(tw)
		fmt.Fprintf(tw, "  paths\t%s\n", strings.Join(ch.Paths, ", "))
		fmt.Fprintf(tw, "  seeds\t%s\n", strings.Join(ch.Seeds, ", "))
		if len(ch.SeedLists) > 0 {
			fmt.Fprintf(tw, "  seed lists\t%s\n", strings.Join(ch.SeedLists, ", "))
		}
		fmt.Fprintf(tw, "  deadline\t%s, poll every %s\n", human(ch.Deadline), human(ch.PollInterval))
		fmt.Fprintf(tw, "  subject\t%q\n", ch.Subject)
		for _, r := range ch.Alerts {
			fmt.Fprintf(tw, "  alert %s\t%s: %s; notify %s\n", r.Name, r.Severity, r.describe(), or(strings.Join(r.Notify, ", "), "every notifier"))
		}
	}

	if len(c.Notifiers) > 0 {
		fmt.Fprintln(tw, "\nNOTIFIER\tTYPE\tTARGET\tTIMEOUT")
		for _, name := range sorted(c.Notifiers) {
			n := c.Notifiers[name]
			target := "url " + n.URL.String()
			switch n.Type {
			case NotifyCommand:
				target = quoteAll(n.Command)
			case NotifyEmail:
				target = "to " + strings.Join(n.To, ", ") + " over path " + n.Path
			}
			if n.HMACKey.IsSet() {
				target += ", signed with " + n.HMACKey.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, n.Type, target, human(n.Timeout))
		}
	}
	web := "off"
	if c.Web.Listen != "" {
		web = "http://" + c.Web.Listen + " (/metrics, /api/..., /healthz)"
		if c.Web.Token.IsSet() {
			web += ", bearer token " + c.Web.Token.String()
		}
	}
	fmt.Fprintf(tw, "\nweb\t%s\n", web)
}

// folders describes where a seed's probes are looked for: the inbox, then the
// junk folder, named or found by SPECIAL-USE and then by the provider's names.
func folders(s *Seed) string {
	junk := quoteAll([]string{s.Junk})
	if s.Junk == "" {
		junk = `\Junk`
		if s.Provider != nil && len(s.Provider.JunkFolders) > 0 {
			junk += " " + quoteAll(s.Provider.JunkFolders)
		}
	}
	return fmt.Sprintf("%q, junk: %s", s.Inbox, junk)
}

// rel shortens a file name to be relative to the config's directory.
func (c *Config) rel(file string) string {
	if c.File == "" || !filepath.IsAbs(file) && filepath.IsAbs(c.File) {
		return file
	}
	if r, err := filepath.Rel(filepath.Dir(c.File), file); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return file
}

// human writes a duration as it is written in the config: "90d", "1h", "5m".
func human(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " ")
}

func sorted[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
