// Package report turns stored probes into what people and scripts read: a table
// per round, the same facts as JSON, and the exit status a monitoring system
// acts on. It reads store types and computes nothing that is not printed.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

// Exit statuses of `mailflow probe` and `mailflow demo`.
const (
	ExitOK      = 0 // every probe landed in the inbox
	ExitProblem = 1 // a probe landed in spam, a tab or another folder, or is missing
	ExitFailed  = 2 // a probe could not be submitted or looked for (SMTP or IMAP failure)
)

// Status is the exit status for a round's probes.
func Status(probes []store.Probe) int {
	status := ExitOK
	for _, p := range probes {
		switch {
		case p.State == store.StateRejected || p.State == store.StateDeferred || p.State == store.StateError:
			return ExitFailed
		case p.Placement != "inbox":
			status = ExitProblem
		}
	}
	return status
}

// Table writes one line per probe, then one note per probe that did not reach
// the inbox, saying why.
func Table(w io.Writer, probes []store.Probe) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSEED\tSMTP\tPLACEMENT\tLATENCY\tSPF\tDKIM\tDMARC\tTLS")
	for _, p := range probes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Path, p.Seed, smtpCell(p), orDash(p.Placement),
			latencyCell(p), orDash(p.Auth.SPF), orDash(p.Auth.DKIM), orDash(p.Auth.DMARC), orDash(p.Submission.TLSVersion))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, p := range probes {
		if n := note(p); n != "" {
			notes = append(notes, fmt.Sprintf("  %s → %s: %s", p.Path, p.Seed, n))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
	return nil
}

func smtpCell(p store.Probe) string {
	s := p.Submission
	if s.Outcome == "" {
		return "-"
	}
	cell := s.Outcome
	if s.Code != 0 {
		cell += fmt.Sprintf(" %d", s.Code)
	}
	if s.EnhancedCode != "" {
		cell += " " + s.EnhancedCode
	}
	return cell
}

func latencyCell(p store.Probe) string {
	if p.State != store.StateFound {
		return "-"
	}
	if p.Sighting.LatencyBasis == store.LatencyInternalDate {
		return "~" + formatDuration(p.Sighting.Latency) // to INTERNALDATE, whole seconds at most servers
	}
	return formatDuration(p.Sighting.Latency)
}

// formatDuration prints milliseconds below 10s and seconds above.
func formatDuration(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(100 * time.Millisecond).String()
}

func note(p store.Probe) string {
	s := p.Submission
	switch p.State {
	case store.StateRejected, store.StateDeferred, store.StateError:
		if s.Stage == "" {
			return p.Error
		}
		why := s.Reason
		if why == "" {
			why = s.Text
		}
		return fmt.Sprintf("%s at %s: %s", p.State, strings.ToUpper(s.Stage), why)
	case store.StateMissing:
		return "missing: " + p.Error
	case store.StateFound:
		if p.Placement != "inbox" {
			return fmt.Sprintf("found in folder %q", p.Sighting.Folder)
		}
		var a AnalysisJSON
		if json.Unmarshal([]byte(p.Sighting.Analysis), &a) == nil && a.Summary.Spam == "yes" {
			return fmt.Sprintf("in the inbox, but the receiver's filter (%s) called it spam", a.Summary.SpamFilter)
		}
	}
	return ""
}

func orDash(s string) string { return orNone(s, "-") }

// JSON writes the probes as a JSON array, one object per probe, with the field
// names of ProbeJSON.
func JSON(w io.Writer, probes []store.Probe) error {
	out := make([]ProbeJSON, len(probes))
	for i, p := range probes {
		out[i] = ToJSON(p)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
