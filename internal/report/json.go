package report

import (
	"encoding/json"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

// ProbeJSON is the stable JSON form of a probe (`--json`). Fields are only ever
// added; durations are in milliseconds, instants in RFC 3339 UTC.
type ProbeJSON struct {
	Token       string    `json:"token"`
	Round       int64     `json:"round"`
	Check       string    `json:"check"`
	Path        string    `json:"path"`
	Seed        string    `json:"seed"`
	SeedAddress string    `json:"seed_address"`
	Provider    string    `json:"provider"`
	State       string    `json:"state"`
	Placement   string    `json:"placement"`
	CreatedAt   time.Time `json:"created_at"`
	DeadlineAt  time.Time `json:"deadline_at"`
	LatencyMS   *float64  `json:"latency_ms"`
	// LatencyBasis is "seen" (to when mailflow saw the message) or
	// "internaldate" (to the server's arrival time, for a message that arrived
	// while its folder was not watched); "" when not found.
	LatencyBasis string     `json:"latency_basis"`
	Error        string     `json:"error,omitempty"`
	SMTP         SMTPJSON   `json:"smtp"`
	TLS          *TLSJSON   `json:"tls"`
	Found        *FoundJSON `json:"found"`
	Auth         AuthJSON   `json:"auth"`
	// Analysis is the header analysis of a found probe (AnalysisJSON), null otherwise.
	Analysis json.RawMessage `json:"analysis"`
}

// SMTPJSON is the submission of a probe.
type SMTPJSON struct {
	Outcome      string      `json:"outcome"`
	Stage        string      `json:"stage"`
	Code         int         `json:"code"`
	EnhancedCode string      `json:"enhanced_code"`
	Text         string      `json:"text"`
	Reason       string      `json:"reason,omitempty"`
	QueueID      string      `json:"queue_id"`
	Reused       bool        `json:"reused_connection"`
	DurationMS   float64     `json:"duration_ms"`
	Stages       []StageJSON `json:"stages"`
}

// StageJSON is one SMTP stage.
type StageJSON struct {
	Stage        string  `json:"stage"`
	DurationMS   float64 `json:"duration_ms"`
	Code         int     `json:"code"`
	EnhancedCode string  `json:"enhanced_code"`
	Text         string  `json:"text"`
	Error        string  `json:"error,omitempty"`
}

// TLSJSON is the TLS session of the submission.
type TLSJSON struct {
	Version     string    `json:"version"`
	Cipher      string    `json:"cipher"`
	ServerName  string    `json:"server_name"`
	CertSubject string    `json:"cert_subject"`
	CertIssuer  string    `json:"cert_issuer"`
	CertExpiry  time.Time `json:"cert_expiry"`
}

// FoundJSON is where and when the probe was seen.
type FoundJSON struct {
	At           time.Time `json:"at"`
	Folder       string    `json:"folder"`
	Role         string    `json:"role"`
	UID          uint32    `json:"uid"`
	InternalDate time.Time `json:"internal_date"`
	Flags        []string  `json:"flags"`
}

// AuthJSON is the authentication verdict, from the trusted authserv-id.
type AuthJSON struct {
	AuthservID string           `json:"authserv_id"`
	SPF        string           `json:"spf"`
	DKIM       string           `json:"dkim"`
	DMARC      string           `json:"dmarc"`
	Results    []AuthResultJSON `json:"results"`
}

// AuthResultJSON is one method result of one Authentication-Results header.
type AuthResultJSON struct {
	Header     int    `json:"header"`
	AuthservID string `json:"authserv_id"`
	Trusted    bool   `json:"trusted"`
	Method     string `json:"method"`
	Result     string `json:"result"`
	Reason     string `json:"reason,omitempty"`
	Props      string `json:"props,omitempty"`
}

// ToJSON returns the stable JSON form of one probe, as `--json` prints it and
// the daemon's /api/probes serves it. The probe's stages and authentication
// rows are included when p carries them. The wire transcript is never part of
// it.
func ToJSON(p store.Probe) ProbeJSON {
	s := p.Submission
	out := ProbeJSON{
		Token: p.Token, Round: p.RoundID, Check: p.Check, Path: p.Path, Seed: p.Seed, SeedAddress: p.SeedAddress,
		Provider: p.Provider, State: p.State, Placement: p.Placement, CreatedAt: p.CreatedAt, DeadlineAt: p.DeadlineAt,
		Error: p.Error,
		SMTP: SMTPJSON{Outcome: s.Outcome, Stage: s.Stage, Code: s.Code, EnhancedCode: s.EnhancedCode, Text: s.Text,
			Reason: s.Reason, QueueID: s.QueueID, Reused: s.Reused, DurationMS: millis(s.Duration), Stages: []StageJSON{}},
		Auth: AuthJSON{AuthservID: p.Auth.AuthservID, SPF: p.Auth.SPF, DKIM: p.Auth.DKIM, DMARC: p.Auth.DMARC,
			Results: []AuthResultJSON{}},
	}
	for _, st := range p.Stages {
		out.SMTP.Stages = append(out.SMTP.Stages, StageJSON{Stage: st.Stage, DurationMS: millis(st.Duration),
			Code: st.Code, EnhancedCode: st.EnhancedCode, Text: st.Text, Error: st.Error})
	}
	if s.TLSVersion != "" {
		out.TLS = &TLSJSON{Version: s.TLSVersion, Cipher: s.TLSCipher, ServerName: s.TLSServer,
			CertSubject: s.CertSubject, CertIssuer: s.CertIssuer, CertExpiry: s.CertExpiry}
	}
	if p.State == store.StateFound {
		g := p.Sighting
		l := millis(g.Latency)
		out.LatencyMS, out.LatencyBasis = &l, g.LatencyBasis
		if g.Analysis != "" {
			out.Analysis = json.RawMessage(g.Analysis)
		}
		out.Found = &FoundJSON{At: g.FoundAt, Folder: g.Folder, Role: g.FolderRole, UID: g.UID,
			InternalDate: g.InternalDate, Flags: g.Flags}
	}
	for _, a := range p.AuthRows {
		out.Auth.Results = append(out.Auth.Results, AuthResultJSON{Header: a.HeaderIndex, AuthservID: a.AuthservID,
			Trusted: a.Trusted, Method: a.Method, Result: a.Result, Reason: a.Reason, Props: a.Props})
	}
	return out
}

func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
