// Package submit sends one probe over a path with the go-smtp client and records
// what happened: each stage's duration and reply, the TLS facts, the queue id and
// a classified outcome. It does not compose messages (see message) or judge where
// they land (see verdict).
package submit

import (
	"crypto/tls"
	"time"
)

// Stage is one step of an SMTP submission.
type Stage string

// Stages in the order they happen. StageTLS is the implicit-TLS handshake;
// StageSTARTTLS covers the STARTTLS command, the handshake and the EHLO that
// RFC 3207 section 4.2 requires after it.
const (
	StageConnect  Stage = "connect"
	StageTLS      Stage = "tls"
	StageBanner   Stage = "banner"
	StageEHLO     Stage = "ehlo"
	StageSTARTTLS Stage = "starttls"
	StageAuth     Stage = "auth"
	StageMail     Stage = "mail"
	StageRcpt     Stage = "rcpt"
	StageData     Stage = "data"
	StageQuit     Stage = "quit"
)

// Outcome classifies a submission.
type Outcome string

// Outcomes. A message in spam is not a submit outcome: submit only knows whether
// the server took responsibility for the message.
const (
	Accepted Outcome = "accepted" // final 2xx after DATA
	Deferred Outcome = "deferred" // a 4xx reply: try again later
	Rejected Outcome = "rejected" // a 5xx reply to MAIL, RCPT or DATA
	Failed   Outcome = "error"    // network, TLS, timeout, AUTH or protocol trouble
)

// Step is one stage as it happened.
type Step struct {
	Stage    Stage
	Start    time.Time // wall clock, UTC
	Duration time.Duration
	// Code, EnhancedCode and Text are the server's last reply in this stage
	// (0 and "" when the stage has no reply, e.g. connect).
	Code         int
	EnhancedCode string // "2.1.0", "" when the server sent none
	Text         string
	Err          string // why the stage failed, "" when it succeeded
}

// TLSInfo describes the TLS session of a submission.
type TLSInfo struct {
	Version     string // "TLS 1.3"
	Cipher      string
	ServerName  string
	CertSubject string
	CertIssuer  string
	CertExpiry  time.Time
}

// Result is everything learned from one submission.
type Result struct {
	Outcome Outcome
	// Stage, Code, EnhancedCode and Text describe the deciding reply: the failing
	// stage, or StageData and the final reply when accepted.
	Stage        Stage
	Code         int
	EnhancedCode string
	Text         string
	// Reason explains a failure in words (a network or TLS error, a refusal of ours).
	Reason   string
	QueueID  string
	TLS      *TLSInfo // nil when the session stayed plain
	Steps    []Step
	Start    time.Time     // UTC, when the connection was started
	Duration time.Duration // connect to the end of QUIT (or the failure)
	// AcceptedAt is when the final reply to DATA arrived (zero unless accepted).
	AcceptedAt time.Time
	// Transcript is the wire conversation with AUTH arguments masked.
	Transcript string
	// Reused is set when the message went over a connection opened for an
	// earlier probe: Steps then start at MAIL.
	Reused bool
}

func tlsInfo(cs tls.ConnectionState) *TLSInfo {
	info := &TLSInfo{
		Version:    tls.VersionName(cs.Version),
		Cipher:     tls.CipherSuiteName(cs.CipherSuite),
		ServerName: cs.ServerName,
	}
	if len(cs.PeerCertificates) > 0 {
		c := cs.PeerCertificates[0]
		info.CertSubject = c.Subject.String()
		info.CertIssuer = c.Issuer.String()
		info.CertExpiry = c.NotAfter.UTC()
	}
	return info
}
