package alert

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/message"
	"github.com/mailflow/mailflow/internal/submit"
)

// email sends a plain-text message through one of the paths, as probes are
// sent: its TLS, AUTH, envelope sender and DKIM key.
type email struct {
	name    string
	path    *config.Path
	paths   PathFunc
	to      []string
	timeout time.Duration
	signer  crypto.Signer // nil when the path does not sign
	now     func() time.Time
	log     *slog.Logger
}

func newEmail(n *config.Notifier, cfg *config.Config, paths PathFunc) (Notifier, error) {
	p := cfg.Paths[n.Path]
	switch {
	case paths == nil:
		return nil, fmt.Errorf("notifier %s: no way to send over path %s", n.Name, n.Path)
	case p == nil:
		return nil, fmt.Errorf("notifier %s: no path named %q", n.Name, n.Path)
	}
	if len(n.To) == 0 {
		return nil, fmt.Errorf("notifier %s: no recipients (to)", n.Name)
	}
	m := &email{name: n.Name, path: p, paths: paths, to: n.To, timeout: n.Timeout, now: time.Now,
		log: slog.New(slog.DiscardHandler)} // a failure is the error Notify returns
	if p.DKIM != nil {
		s, err := message.ParseDKIMKey([]byte(p.DKIM.Key.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("notifier %s: path %s: dkim key %s: %w", n.Name, p.Name, p.DKIM.KeyFile, err)
		}
		m.signer = s
	}
	return m, nil
}

// Name returns the notifier's name.
func (m *email) Name() string { return m.name }

// Notify composes the message and submits it to every recipient in one SMTP
// transaction, within the notifier's timeout and the path's per-stage one.
func (m *email) Notify(ctx context.Context, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	msg, err := m.compose(e)
	if err != nil {
		return fmt.Errorf("notifier %s: %w", m.name, err)
	}
	sp, err := m.paths(m.path)
	if err != nil {
		return fmt.Errorf("notifier %s: %w", m.name, err)
	}
	sp.Timeout = cmp.Or(sp.Timeout, submit.DefaultTimeout)
	// A stage ends by its own deadline a little before the notification's,
	// so a silent server is reported as the stage that timed out; and the
	// context does not end at the very moment a stage fails (submit's open
	// races on that moment).
	sp.Timeout = min(sp.Timeout, m.timeout-m.timeout/10)
	if err := submit.Mail(ctx, sp, m.to, msg, m.log).Err(); err != nil {
		return fmt.Errorf("notifier %s: path %s: %w", m.name, m.path.Name, err)
	}
	return nil
}

// emailSubject is the subject of an alert email:
// "[mailflow FIRING] default/slow path=submission: p95 round trip 3m12s over 2m0s".
func emailSubject(e Event) string {
	return fmt.Sprintf("[mailflow %s] %s %s: %s", strings.ToUpper(e.Status), ruleKey(e), e.Group, e.Summary)
}

// compose builds the message: RFC 5322 with CRLF line ends, one text/plain
// part, signed with the path's DKIM key when it has one.
func (m *email) compose(e Event) ([]byte, error) {
	fromText := m.path.From
	if fromText == "" {
		fromText = m.path.MailFrom
	}
	from, err := mail.ParseAddress(fromText)
	if err != nil {
		return nil, fmt.Errorf("path %s: from %q: %w", m.path.Name, fromText, err)
	}
	to := make([]*mail.Address, len(m.to))
	for i, a := range m.to {
		if to[i], err = mail.ParseAddress(a); err != nil {
			return nil, fmt.Errorf("to %q: %w", a, err)
		}
	}
	date := e.At
	if date.IsZero() {
		date = m.now()
	}
	var h mail.Header
	h.SetDate(date)
	h.SetAddressList("From", []*mail.Address{from})
	h.SetAddressList("To", to)
	h.SetSubject(emailSubject(e))
	h.SetMessageID(messageID(e.ID, from.Address))
	h.Set("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	h.Set("X-Mailflow-Alert", e.Alert)
	h.Set("X-Mailflow-Alert-Status", e.Status)
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	body := emailBody(e)
	if plain(body) {
		// Readable as it is, also in a raw view; else go-message picks
		// quoted-printable.
		h.Set("Content-Transfer-Encoding", "7bit")
	}

	var buf bytes.Buffer
	w, err := mail.CreateSingleInlineWriter(&buf, h)
	if err == nil {
		_, err = w.Write([]byte(body))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if m.signer == nil {
		return buf.Bytes(), nil
	}
	return message.Sign(buf.Bytes(), message.DKIMKey{Domain: m.path.DKIM.Domain, Selector: m.path.DKIM.Selector, Signer: m.signer})
}

// messageID is unique per notification, and the same for every attempt to
// send one, so a receiver that drops duplicates drops a retried alert.
func messageID(id, from string) string {
	domain := from[strings.LastIndexByte(from, '@')+1:]
	// Event ids hold "/", "=" and "@": the id's digest is what fits.
	sum := sha256.Sum256([]byte(id))
	if id == "" {
		rand.Read(sum[:])
	}
	return "mailflow.alert." + hex.EncodeToString(sum[:16]) + "@" + domain
}

// emailBody is the text of the message: the headline, then every field of
// the event, one a line.
func emailBody(e Event) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\r\n", k, v) }
	fmt.Fprintf(&b, "%s %s\r\n\r\n", label(e), e.Summary)
	line("alert", e.Alert)
	line("check", e.Check)
	line("rule", e.Rule+" ("+e.Kind+")")
	line("group", e.Group)
	line("value", fmt.Sprintf("%g (threshold %g)", e.Value, e.Threshold))
	line("when", when(e))
	for i, p := range e.Probes {
		k := ""
		if i == 0 {
			k = "probes"
		}
		line(k, p)
	}
	line("id", e.ID)
	b.WriteString("\r\nSent by mailflow.\r\n")
	return b.String()
}

// plain reports whether s can go as 7bit: ASCII in lines of at most 998
// bytes (RFC 5322 section 2.1.1).
func plain(s string) bool {
	for _, l := range strings.Split(s, "\r\n") {
		if len(l) > 998 {
			return false
		}
		for i := 0; i < len(l); i++ {
			if l[i] >= 0x80 || l[i] == 0 || l[i] == '\r' || l[i] == '\n' {
				return false
			}
		}
	}
	return true
}
