package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailflow/mailflow/internal/verdict"
)

// AnalysisJSON is the stable JSON form of a header analysis (`mailflow
// analyze --json`, and the analysis stored with each found probe). Fields are
// only ever added. The README documents it.
type AnalysisJSON struct {
	AuthenticationResults []AuthResultFieldJSON `json:"authentication_results"`
	Summary               SummaryJSON           `json:"summary"`
	DKIMSignatures        []DKIMSignatureJSON   `json:"dkim_signatures"`
	ARCChain              ARCChainJSON          `json:"arc_chain"`
	Hops                  []HopJSON             `json:"hops"`
	Spam                  []SpamJSON            `json:"spam"`
	Errors                []string              `json:"errors"`
}

// SpamJSON is one spam filter's verdict. Trusted marks the receiver's own
// filter (the provider's spam_filters).
type SpamJSON struct {
	Filter    string            `json:"filter"`
	Trusted   bool              `json:"trusted"`
	Spam      string            `json:"spam"` // yes, no or unknown
	Score     *float64          `json:"score"`
	Threshold *float64          `json:"threshold"`
	Tests     []string          `json:"tests"`
	Action    string            `json:"action,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
	Fields    []string          `json:"fields"`
	Error     string            `json:"error,omitempty"`
}

// HopJSON is one Received field, oldest first. DelaySeconds is from the hop
// before (or from submission, for the first, when known); null when either
// date is unknown. Skew marks a negative delay: the clocks disagree.
type HopJSON struct {
	From         string   `json:"from"`
	FromHost     string   `json:"from_host"`
	FromIP       string   `json:"from_ip"`
	By           string   `json:"by"`
	With         string   `json:"with"`
	TLS          bool     `json:"tls"`
	TLSVersion   string   `json:"tls_version"`
	Auth         bool     `json:"auth"`
	ID           string   `json:"id"`
	For          string   `json:"for"`
	Date         string   `json:"date"` // RFC 3339 in the zone the hop wrote; "" when unknown
	DelaySeconds *float64 `json:"delay_seconds"`
	Skew         bool     `json:"skew"`
	Error        string   `json:"error,omitempty"`
}

// AuthResultFieldJSON is one method result of one Authentication-Results or
// ARC-Authentication-Results field.
type AuthResultFieldJSON struct {
	Header     string            `json:"header"`
	Index      int               `json:"index"` // the field's position among fields of its name, topmost 0
	AuthservID string            `json:"authserv_id"`
	Instance   int               `json:"instance,omitempty"` // ARC only
	Trusted    bool              `json:"trusted"`
	Method     string            `json:"method"`
	Result     string            `json:"result"`
	Reason     string            `json:"reason,omitempty"`
	Properties map[string]string `json:"properties"`
}

// SummaryJSON holds the trusted receiver's results; "none" when it gave none
// or no field was trusted.
type SummaryJSON struct {
	AuthservID       string `json:"authserv_id"`
	SPF              string `json:"spf"`
	SPFBestGuess     bool   `json:"spf_best_guess"` // the domain publishes no SPF; the receiver guessed
	DKIM             string `json:"dkim"`
	DMARC            string `json:"dmarc"`
	DMARCPolicy      string `json:"dmarc_policy"`
	DMARCDisposition string `json:"dmarc_disposition"`
	ARC              string `json:"arc"`
	CompAuth         string `json:"compauth"`
	CompAuthReason   string `json:"compauth_reason"`
	FromDomain       string `json:"from_domain"`
	// Spam is the trusted filter's verdict (yes, no, unknown), "none" without one.
	Spam       string `json:"spam"`
	SpamFilter string `json:"spam_filter"`
}

// DKIMSignatureJSON is one DKIM result of the trusted field.
type DKIMSignatureJSON struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	Result   string `json:"result"`
	Aligned  bool   `json:"aligned"`
}

// ARCChainJSON is the message's ARC chain as its seals state it.
type ARCChainJSON struct {
	Length     int    `json:"length"`
	Validation string `json:"validation"`
}

// Analysis returns the JSON form of a.
func Analysis(a verdict.Analysis) AnalysisJSON {
	au := a.Auth
	out := AnalysisJSON{
		AuthenticationResults: []AuthResultFieldJSON{},
		Summary: SummaryJSON{AuthservID: au.AuthservID, SPF: orNone(au.SPF, "none"), SPFBestGuess: au.SPFBestGuess, DKIM: orNone(au.DKIM, "none"), DMARC: orNone(au.DMARC, "none"),
			DMARCPolicy: au.DMARCPolicy, DMARCDisposition: au.DMARCDisposition, ARC: orNone(au.ARC, "none"),
			CompAuth: orNone(au.CompAuth, "none"), CompAuthReason: au.CompAuthReason, FromDomain: au.FromDomain},
		DKIMSignatures: []DKIMSignatureJSON{},
		ARCChain:       ARCChainJSON{Length: au.ARCChain, Validation: au.ARCChainValidation},
		Errors:         append([]string{}, a.Errors...),
	}
	for _, group := range [][]verdict.AuthResults{au.Headers, au.ARCResults} {
		for i, h := range group {
			for _, r := range h.Results {
				props := map[string]string{}
				for _, p := range r.Props {
					props[p.Key()] = p.Value
				}
				out.AuthenticationResults = append(out.AuthenticationResults, AuthResultFieldJSON{
					Header: h.Field, Index: i, AuthservID: h.AuthservID, Instance: h.Instance, Trusted: h.Trusted,
					Method: r.Method, Result: r.Value, Reason: r.Reason, Properties: props,
				})
			}
		}
	}
	for _, s := range au.DKIMSignatures {
		out.DKIMSignatures = append(out.DKIMSignatures, DKIMSignatureJSON(s))
	}
	out.Summary.Spam = "none"
	if f := a.Filtered; f != nil {
		out.Summary.Spam, out.Summary.SpamFilter = f.Spam, f.Filter
	}
	out.Spam = []SpamJSON{}
	for i, v := range a.Spam {
		tests := v.Tests
		if tests == nil {
			tests = []string{}
		}
		out.Spam = append(out.Spam, SpamJSON{Filter: v.Filter, Trusted: a.Filtered == &a.Spam[i], Spam: v.Spam,
			Score: v.Score, Threshold: v.Threshold, Tests: tests, Action: v.Action, Details: v.Details,
			Fields: v.Fields, Error: v.Err})
	}
	out.Hops = []HopJSON{}
	for _, h := range a.Hops {
		hj := HopJSON{From: h.From, FromHost: h.FromHost, FromIP: h.FromIP, By: h.By, With: h.With, TLS: h.TLS,
			TLSVersion: h.TLSVersion, Auth: h.Auth, ID: h.ID, For: h.For, Skew: h.Skew, Error: h.Err}
		if !h.Date.IsZero() {
			hj.Date = h.Date.Format(time.RFC3339)
		}
		if h.DelayKnown {
			d := h.Delay.Seconds()
			hj.DelaySeconds = &d
		}
		out.Hops = append(out.Hops, hj)
	}
	return out
}

// WriteAnalysisJSON writes a as indented JSON.
func WriteAnalysisJSON(w io.Writer, a verdict.Analysis) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Analysis(a))
}

// WriteAnalysis writes a as a report for people: the trusted verdict first,
// then every field with its trust, then what could not be read.
func WriteAnalysis(w io.Writer, a verdict.Analysis) error {
	j := Analysis(a)
	s := j.Summary
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if a.Auth.Trusted {
		fmt.Fprintf(tw, "trusted receiver\t%s\n", orNone(s.AuthservID, "(topmost field, no authserv-id)"))
	} else {
		fmt.Fprintln(tw, "trusted receiver\tnone: no Authentication-Results field is from a trusted authserv-id (name one with --trust)")
	}
	fmt.Fprintf(tw, "from domain\t%s\n", orNone(s.FromDomain, "(none)"))
	spf := s.SPF
	if s.SPFBestGuess {
		spf += " (a best guess: the domain publishes no SPF record)"
	}
	fmt.Fprintf(tw, "spf\t%s\n", spf)
	fmt.Fprintf(tw, "dkim\t%s\n", s.DKIM)
	for _, d := range j.DKIMSignatures {
		al := "not aligned with From"
		if d.Aligned {
			al = "aligned with From"
		}
		fmt.Fprintf(tw, "  signature\td=%s s=%s %s, %s\n", orNone(d.Domain, "?"), orNone(d.Selector, "?"), d.Result, al)
	}
	dmarc := s.DMARC
	if s.DMARCPolicy != "" || s.DMARCDisposition != "" {
		dmarc += fmt.Sprintf(" (policy %s, disposition %s)", orNone(s.DMARCPolicy, "?"), orNone(s.DMARCDisposition, "?"))
	}
	fmt.Fprintf(tw, "dmarc\t%s\n", dmarc)
	arc := s.ARC
	if j.ARCChain.Length > 0 {
		arc += fmt.Sprintf(" (chain of %d, last seal cv=%s)", j.ARCChain.Length, orNone(j.ARCChain.Validation, "?"))
	}
	fmt.Fprintf(tw, "arc\t%s\n", arc)
	if s.CompAuth != "none" {
		fmt.Fprintf(tw, "compauth\t%s reason %s\n", s.CompAuth, orNone(s.CompAuthReason, "?"))
	}
	for _, v := range j.Spam {
		line := v.Spam
		if v.Score != nil {
			line += fmt.Sprintf(", score %g", *v.Score)
			if v.Threshold != nil {
				line += fmt.Sprintf(" of %g", *v.Threshold)
			}
		}
		if v.Action != "" {
			line += ", action " + v.Action
		}
		if v.Trusted {
			line += " (the receiver's filter)"
		}
		fmt.Fprintf(tw, "spam: %s\t%s\n", v.Filter, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(j.AuthenticationResults) > 0 {
		fmt.Fprintln(w, "\nfields")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  HEADER\tAUTHSERV-ID\tTRUSTED\tMETHOD\tRESULT\tPROPERTIES")
		for _, r := range j.AuthenticationResults {
			name := r.Header
			if r.Instance > 0 {
				name += fmt.Sprintf(" i=%d", r.Instance)
			}
			trusted := "no"
			if r.Trusted {
				trusted = "yes"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", name, orNone(r.AuthservID, "-"), trusted, r.Method, r.Result, props(r.Properties))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(j.Hops) > 0 {
		fmt.Fprintln(w, "\nhops, oldest first")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tFROM\tBY\tWITH\tTLS\tDATE\tDELAY")
		for i, h := range j.Hops {
			from := h.From
			if h.FromIP != "" {
				from += " [" + h.FromIP + "]"
			}
			tlsCell := "-"
			if h.TLS {
				tlsCell = orNone(h.TLSVersion, "yes")
			}
			delay := "?"
			if h.DelaySeconds != nil {
				delay = fmt.Sprintf("%.3fs", *h.DelaySeconds)
				if h.Skew {
					delay += " (clock skew)"
				}
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, orNone(strings.TrimSpace(from), "-"), orNone(h.By, "-"),
				orNone(h.With, "-"), tlsCell, orNone(h.Date, "?"), delay)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(j.Errors) > 0 {
		fmt.Fprintln(w, "\nnot understood")
		for _, e := range j.Errors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	return nil
}

// props prints properties in a stable order.
func props(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
