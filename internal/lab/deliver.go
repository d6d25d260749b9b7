package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/textproto"
)

// delivery is one accepted SMTP transaction on its way into the mailboxes.
type delivery struct {
	qid     string
	helo    string
	ip      net.IP
	with    string // ESMTP, ESMTPS or ESMTPSA (RFC 3848)
	tls     string // "using TLSv1.3 with cipher ...", "" without TLS
	now     time.Time
	body    []byte
	token   string // X-Mailflow-Probe, for the log
	verdict verdict
}

// deliver files one copy of d for the account's seed: nowhere for RuleDrop,
// Junk for RuleJunk or spam, INBOX otherwise. The append goes through the IMAP
// memory server, so IDLE clients see EXISTS.
func (l *Lab) deliver(d *delivery, a *account) error {
	seed := a.seed
	l.countDelivery(d.token)
	if seed.Rule == RuleDrop {
		l.log.Info("lab dropped message", "seed", seed.Name, "queue_id", d.qid, "token", d.token)
		return nil
	}
	folder, reason := "INBOX", ""
	switch {
	case seed.Rule == RuleJunk:
		reason = "seed rule"
	case d.verdict.gtube:
		reason = "gtube"
	case d.verdict.dmarc == "fail":
		reason = "dmarc=fail"
	}
	if reason != "" {
		folder = junkFolder
	} else if seed.Rule == RuleArchive {
		folder = archiveFolder
	}
	msg := l.stamp(d, seed, reason != "")
	lit := literal{bytes.NewReader(msg)}
	if _, err := a.user.Append(folder, lit, &imap.AppendOptions{Time: time.Now()}); err != nil {
		return fmt.Errorf("seed %s: append to %s: %w", seed.Name, folder, err)
	}
	l.log.Info("lab delivered message", "seed", seed.Name, "folder", folder, "queue_id", d.qid,
		"token", d.token, "spam_reason", reason)
	return nil
}

// stamp returns the copy of d for seed: its Received field (RFC 5321 section
// 4.4) on top, then Authentication-Results (RFC 8601) and X-Spam, above the
// message without the fields the lab owns.
func (l *Lab) stamp(d *delivery, seed Seed, spam bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Received: from %s (localhost [%s])\r\n", d.helo, d.ip)
	if d.tls != "" {
		fmt.Fprintf(&b, "\t(%s)\r\n", d.tls)
	}
	fmt.Fprintf(&b, "\tby %s with %s id %s\r\n\tfor <%s>; %s\r\n",
		l.Hostname, d.with, d.qid, seed.Address, d.now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Authentication-Results: %s\r\n", l.authResults(d.verdict))
	xSpam := "No"
	if spam {
		xSpam = "Yes"
	}
	fmt.Fprintf(&b, "X-Spam: %s\r\n", xSpam)
	b.Write(l.withoutForgeries(d.body))
	return b.Bytes()
}

// withoutForgeries removes the fields a sender must not set for the lab:
// Authentication-Results with the lab's authserv-id (RFC 8601 section 5) and
// X-Spam. Every other field keeps its bytes, so DKIM signatures still verify.
func (l *Lab) withoutForgeries(msg []byte) []byte {
	br := bufio.NewReader(bytes.NewReader(msg))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return msg
	}
	removed := false
	for f := h.FieldsByKey("Authentication-Results"); f.Next(); {
		if strings.EqualFold(authservID(f.Value()), l.Hostname) {
			f.Del()
			removed = true
		}
	}
	if h.Has("X-Spam") {
		h.Del("X-Spam")
		removed = true
	}
	if !removed {
		return msg
	}
	var b bytes.Buffer
	if err := textproto.WriteHeader(&b, h); err != nil {
		return msg
	}
	io.Copy(&b, br)
	return b.Bytes()
}

// authservID is the authserv-id that starts an Authentication-Results value
// (RFC 8601 section 2.2), without comments.
func authservID(v string) string {
	id, _, _ := strings.Cut(v, ";")
	for strings.Contains(id, "(") {
		i := strings.IndexByte(id, '(')
		j := strings.IndexByte(id[i:], ')')
		if j < 0 {
			id = id[:i]
			break
		}
		id = id[:i] + " " + id[i+j+1:]
	}
	if f := strings.Fields(id); len(f) > 0 {
		return f[0]
	}
	return ""
}

// tokenOf returns the X-Mailflow-Probe value of msg, for the log.
func tokenOf(msg []byte) string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(h.Get("X-Mailflow-Probe"))
}

// literal is an imap.LiteralReader over a delivered message.
type literal struct {
	*bytes.Reader
}

// Size is the length of the message.
func (l literal) Size() int64 { return l.Reader.Size() }
