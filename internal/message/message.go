// Package message composes probe messages: a tagged, ordinary-looking mail with a
// 128-bit token in its X-Mailflow-Probe header and Message-ID, optionally signed
// with DKIM. It does not send anything; see submit.
package message

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
)

// Header is the header field that carries a probe's token. Seed mailboxes are
// searched for it, so a mailbox shared with other monitors is matched by token only.
const Header = "X-Mailflow-Probe"

// Probe describes one message to compose.
type Probe struct {
	Token string // from NewToken
	From  string // header From, an address with an optional display name
	To    string // the seed address
	Date  time.Time
	// Subject is a prefix; the composed subject adds a short tag of the token so
	// a person reading the seed box can tell probes apart.
	Subject string
	// Check, Path and Seed name where the probe comes from, shown in the body.
	Check, Path, Seed string
	// Body is extra text added to both parts (a GTUBE line, a template...).
	Body string
}

// NewToken returns a fresh 128-bit random token as 32 lower-case hex digits.
func NewToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("probe token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ValidToken reports whether s has the form NewToken produces.
func ValidToken(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// MessageID returns the Message-ID (without angle brackets) for a token sent
// from domain. The token in it lets a probe be matched even where a header is
// stripped.
func MessageID(token, domain string) string {
	return "mailflow." + token + "@" + domain
}

// Build composes the probe as RFC 5322 bytes with CRLF line ends: a
// multipart/alternative message with a text and an HTML part.
func Build(p Probe) ([]byte, error) {
	if !ValidToken(p.Token) {
		return nil, fmt.Errorf("compose probe: token %q is not 32 hex digits", p.Token)
	}
	from, err := mail.ParseAddress(p.From)
	if err != nil {
		return nil, fmt.Errorf("compose probe: from %q: %w", p.From, err)
	}
	to, err := mail.ParseAddress(p.To)
	if err != nil {
		return nil, fmt.Errorf("compose probe: to %q: %w", p.To, err)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]

	var h mail.Header
	h.SetDate(p.Date)
	h.SetAddressList("From", []*mail.Address{from})
	h.SetAddressList("To", []*mail.Address{to})
	subject := p.Subject
	if subject == "" {
		subject = "mailflow probe"
	}
	h.SetSubject(fmt.Sprintf("%s %s", subject, p.Token[:8]))
	h.SetMessageID(MessageID(p.Token, domain))
	h.Set(Header, p.Token)
	h.Set("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies to probes

	var buf bytes.Buffer
	w, err := mail.CreateInlineWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("compose probe: %w", err)
	}
	text, htmlBody := bodies(p)
	for _, part := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", htmlBody}} {
		var ph mail.InlineHeader
		ph.SetContentType(part.typ, map[string]string{"charset": "utf-8"})
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, fmt.Errorf("compose probe: %s part: %w", part.typ, err)
		}
		if _, err := pw.Write([]byte(part.body)); err != nil {
			return nil, fmt.Errorf("compose probe: %s part: %w", part.typ, err)
		}
		if err := pw.Close(); err != nil {
			return nil, fmt.Errorf("compose probe: %s part: %w", part.typ, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compose probe: %w", err)
	}
	return buf.Bytes(), nil
}

// bodies writes the text and HTML parts: plain words a person would send, so that
// content filters judge the path, not the probe.
func bodies(p Probe) (text, htmlBody string) {
	lines := []string{
		"Hello,",
		"",
		"This is a delivery check sent by mailflow to confirm that mail from this",
		"system reaches its recipients. No action is needed; it is removed",
		"automatically once it has been seen.",
		"",
		fmt.Sprintf("Check: %s", p.Check),
		fmt.Sprintf("Path: %s", p.Path),
		fmt.Sprintf("Mailbox: %s", p.Seed),
		fmt.Sprintf("Sent: %s", p.Date.UTC().Format(time.RFC1123)),
		fmt.Sprintf("Reference: %s", p.Token),
	}
	if p.Body != "" {
		lines = append(lines, "", p.Body)
	}
	lines = append(lines, "", "Thank you.")
	text = strings.Join(lines, "\r\n") + "\r\n"

	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\r\n<html><body>\r\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		fmt.Fprintf(&b, "<p>%s</p>\r\n", html.EscapeString(l))
	}
	b.WriteString("</body></html>\r\n")
	return text, b.String()
}
