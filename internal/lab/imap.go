package lab

import (
	"bytes"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// junkFolder is the name of every lab seed's junk folder; it carries the \Junk
// SPECIAL-USE attribute (RFC 6154).
const junkFolder = "Junk"

// newIMAPServer serves the lab's mailboxes. SPECIAL-USE is on, and IDLE unless
// asked otherwise, so the watchers of seedbox work as they do against Dovecot.
func newIMAPServer(mem *imapmemserver.Server, opts *imapserver.Options, idle bool) *imapserver.Server {
	caps := imap.CapSet{}
	for _, c := range []imap.Cap{imap.CapIMAP4rev1, imap.CapSpecialUse, imap.CapListExtended, imap.CapUIDPlus} {
		caps[c] = struct{}{}
	}
	if idle {
		caps[imap.CapIdle] = struct{}{}
	}
	opts.NewSession = func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
		return &labSession{Session: mem.NewSession()}, nil, nil
	}
	opts.Caps = caps
	return imapserver.New(opts)
}

// labSession answers LIST itself: imapmemserver keeps no SPECIAL-USE
// attributes for the folders it creates, and the lab's folders are fixed.
type labSession struct {
	imapserver.Session
}

func (s *labSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/'})
	}
	for _, name := range []string{"INBOX", junkFolder} {
		match := false
		for _, p := range patterns {
			match = match || imapserver.MatchList(name, '/', ref, p)
		}
		var special []imap.MailboxAttr
		if name == junkFolder {
			special = []imap.MailboxAttr{imap.MailboxAttrJunk}
		}
		if !match || (options.SelectSpecialUse && len(special) == 0) {
			continue
		}
		data := &imap.ListData{Mailbox: name, Delim: '/'}
		if options.ReturnSpecialUse || options.SelectSpecialUse {
			data.Attrs = special
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// addMailbox creates a seed's IMAP user with INBOX and the junk folder.
func addMailbox(mem *imapmemserver.Server, username, password string) (*imapmemserver.User, error) {
	u := imapmemserver.NewUser(username, password)
	if err := u.Create("INBOX", nil); err != nil {
		return nil, err
	}
	if err := u.Create(junkFolder, nil); err != nil {
		return nil, err
	}
	mem.AddUser(u)
	return u, nil
}

// literal is an imap.LiteralReader over a delivered message.
type literal struct {
	*bytes.Reader
}

func (l literal) Size() int64 { return l.Reader.Size() }

// deliver files msg for seed into INBOX or Junk, or drops it for RuleDrop.
func (l *Lab) deliver(seed Seed, spam bool, msg []byte, qid string) error {
	l.countDelivery(tokenOf(msg))
	if seed.Rule == RuleDrop {
		l.log.Info("lab dropped message", "seed", seed.Name, "queue_id", qid)
		return nil
	}
	folder := "INBOX"
	if spam {
		folder = junkFolder
	}
	u := l.users[seed.Name]
	if _, err := u.Append(folder, literal{bytes.NewReader(msg)}, &imap.AppendOptions{Time: time.Now()}); err != nil {
		return fmt.Errorf("append to %s/%s: %w", seed.Name, folder, err)
	}
	l.log.Info("lab delivered message", "seed", seed.Name, "folder", folder, "queue_id", qid, "token", tokenOf(msg))
	return nil
}

// tokenOf returns the X-Mailflow-Probe value of msg, for the log.
func tokenOf(msg []byte) string {
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(hdr, []byte("\r\n")) {
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("X-Mailflow-Probe")) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}
