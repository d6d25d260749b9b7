package config

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Print writes what the configuration resolved to — store, paths, seeds with
// their provider and folders, the providers in use, checks — with every secret
// masked.
func (c *Config) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "config\t%s\n", c.File)
	fmt.Fprintf(tw, "store\t%s\n", c.Store.Path)
	h := c.Housekeeping
	fmt.Fprintf(tw, "housekeeping\tkeep probes %s, purge leftover probe messages after %s, every %s\n", h.Retention, h.PurgeAfter, h.Interval)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PATH\tENDPOINT\tSECURITY\tAUTH\tMAIL FROM\tDKIM")
	for _, name := range sorted(c.Paths) {
		p := c.Paths[name]
		sec := string(p.Security)
		if p.Security == SecurityNone && p.StartTLS == "never" {
			sec += " (no starttls)"
		}
		auth := "none"
		if p.Username != "" {
			auth = fmt.Sprintf("%s / %s", p.Username, p.Password)
		}
		dkim := "-"
		if p.DKIM != nil {
			dkim = fmt.Sprintf("d=%s s=%s", p.DKIM.Domain, p.DKIM.Selector)
		}
		fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\t%s\t%s\n", name, p.Host, p.Port, sec, auth, p.MailFrom, dkim)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SEED\tADDRESS\tPROVIDER\tIMAP\tPASSWORD\tJUNK\tTRUSTED AUTHSERV-IDS")
	used := map[string]*Provider{}
	for _, name := range sorted(c.Seeds) {
		s := c.Seeds[name]
		provider := "?"
		junk := s.Junk
		if s.Provider != nil {
			provider, used[s.Provider.ID] = s.Provider.ID, s.Provider
			if junk == "" {
				junk = strings.Join(append([]string{`\Junk`}, s.Provider.JunkFolders...), " | ")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%d %s\t%s\t%s\t%s\n", name, s.Address, provider, s.IMAPHost, s.IMAPPort,
			s.IMAPSecurity, s.Password, junk, orNone(strings.Join(s.TrustedAuthservIDs(), " ")))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PROVIDER\tNAME\tIMAP\tMAX CONNECTIONS")
	for _, id := range sorted(used) {
		p := used[id]
		fmt.Fprintf(tw, "%s\t%s\t%s:%d\t%d\n", id, p.Name, orNone(p.IMAPHost), p.IMAPPort, p.MaxConnections)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CHECK\tSCHEDULE\tPATHS\tSEEDS\tDEADLINE\tPOLL")
	for _, name := range sorted(c.Checks) {
		ch := c.Checks[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, orNone(ch.Schedule), strings.Join(ch.Paths, ","),
			strings.Join(ch.Seeds, ","), ch.Deadline, ch.PollInterval)
	}
	tw.Flush()
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
