package lab

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// junkFolder is the name of every lab seed's junk folder; it carries the \Junk
// SPECIAL-USE attribute (RFC 6154).
const junkFolder = "Junk"

// archiveFolder is the plain folder of seeds with RuleArchive.
const archiveFolder = "Archive"

// delim is imapmemserver's hierarchy delimiter.
const delim = '/'

// serveIMAP starts one IMAP listener, over implicit TLS or offering STARTTLS,
// and returns its address. SPECIAL-USE and LIST-EXTENDED are on, and IDLE
// unless asked otherwise, so clients find folders and wait for mail as they do
// against Dovecot. Without TLS, LOGIN is refused (InsecureAuth is false).
func (l *Lab) serveIMAP(tlsConfig *tls.Config, implicit bool) (string, error) {
	ln, err := listen()
	if err != nil {
		return "", err
	}
	caps := imap.CapSet{}
	for _, c := range []imap.Cap{imap.CapIMAP4rev1, imap.CapSpecialUse, imap.CapListExtended, imap.CapUIDPlus, imap.CapMove} {
		caps[c] = struct{}{}
	}
	if !l.opts.NoIDLE {
		caps[imap.CapIdle] = struct{}{}
	}
	if l.opts.GmailCaps {
		caps["X-GM-EXT-1"] = struct{}{}
	}
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			l.imapSessions.add(1)
			return &imapSession{lab: l}, nil, nil
		},
		Caps:   caps,
		Logger: slogAdapter{l.log},
	}
	if l.opts.CountIMAPID {
		opts.DebugWriter = &l.ids
	}
	var serveLn net.Listener = ln
	name := "imaps"
	if implicit {
		serveLn = tls.NewListener(ln, tlsConfig)
	} else {
		opts.TLSConfig, name = tlsConfig, "imap-starttls"
	}
	srv := imapserver.New(opts)
	l.serve(name, ln, func() error { return srv.Serve(serveLn) }, srv.Close)
	return ln.Addr().String(), nil
}

// account is a seed's IMAP user and the folders it has.
//
// imapmemserver (v2.0.0-beta.8) ignores imap.CreateOptions.SpecialUse and has
// no way to set a folder's special use, so its LIST would never show \Junk. The
// account keeps the list of folders with their attributes and answers LIST
// itself; CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE keep it current.
type account struct {
	seed Seed
	user *imapmemserver.User

	mu      sync.Mutex
	folders map[string]*folder
}

// folder is what LIST needs to know about a mailbox.
type folder struct {
	specialUse []imap.MailboxAttr
	subscribed bool
}

// newAccount makes a seed's IMAP user with a subscribed INBOX and Junk.
func newAccount(s Seed) (*account, error) {
	a := &account{seed: s, user: imapmemserver.NewUser(s.Username, s.Password), folders: map[string]*folder{}}
	for _, f := range []struct {
		name string
		use  []imap.MailboxAttr
	}{{"INBOX", nil}, {junkFolder, []imap.MailboxAttr{imap.MailboxAttrJunk}}, {archiveFolder, nil}} {
		if f.name == archiveFolder && s.Rule != RuleArchive {
			continue
		}
		if err := a.create(f.name, &imap.CreateOptions{SpecialUse: f.use}); err != nil {
			return nil, err
		}
		if err := a.subscribe(f.name, true); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *account) create(name string, options *imap.CreateOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.user.Create(name, options); err != nil {
		return err
	}
	f := &folder{}
	if options != nil {
		f.specialUse = slices.Clone(options.SpecialUse)
	}
	a.folders[strings.TrimRight(name, string(delim))] = f
	return nil
}

func (a *account) delete(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.user.Delete(name); err != nil {
		return err
	}
	delete(a.folders, name)
	return nil
}

func (a *account) rename(oldName, newName string, options *imap.RenameOptions) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.user.Rename(oldName, newName, options); err != nil {
		return err
	}
	a.folders[strings.TrimRight(newName, string(delim))] = a.folders[oldName]
	delete(a.folders, oldName)
	return nil
}

func (a *account) subscribe(name string, on bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var err error
	if on {
		err = a.user.Subscribe(name)
	} else {
		err = a.user.Unsubscribe(name)
	}
	if err == nil && a.folders[name] != nil {
		a.folders[name].subscribed = on
	}
	return err
}

// list answers LIST and LSUB (RFC 3501 section 6.3.8, RFC 5258). Special-use
// attributes come with every response, as Dovecot sends them, and are what
// RETURN (SPECIAL-USE) and the SPECIAL-USE selection option look at (RFC 6154
// section 3).
func (a *account) list(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	a.mu.Lock()
	var out []*imap.ListData
	for name, f := range a.folders {
		if !slices.ContainsFunc(patterns, func(p string) bool { return imapserver.MatchList(name, delim, ref, p) }) ||
			(options.SelectSubscribed && !f.subscribed) || (options.SelectSpecialUse && len(f.specialUse) == 0) {
			continue
		}
		data := &imap.ListData{Mailbox: name, Delim: delim, Attrs: slices.Clone(f.specialUse)}
		if f.subscribed && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		out = append(out, data)
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y *imap.ListData) int { return strings.Compare(x.Mailbox, y.Mailbox) })
	for _, data := range out {
		if options.ReturnStatus != nil {
			st, err := a.user.Status(data.Mailbox, options.ReturnStatus)
			if err != nil {
				continue // deleted since
			}
			data.Status = st
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// imapSession is one IMAP connection: imapmemserver's session of the seed that
// logged in, with the folder commands going through its account.
type imapSession struct {
	*imapmemserver.UserSession // nil until LOGIN; imapserver calls nothing else before

	lab  *Lab
	acct *account
}

// Close ends the session's count before the connection closes, so a client
// that sees the close and dials again never overlaps with it in the count.
func (s *imapSession) Close() error {
	s.lab.imapSessions.add(-1)
	return s.UserSession.Close()
}

// gauge counts what is open, and the most that was open at once.
type gauge struct {
	mu         sync.Mutex
	open, peak int
}

func (g *gauge) add(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open += n
	g.peak = max(g.peak, g.open)
}

func (g *gauge) read() (open, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open, g.peak
}

// Login checks a seed's username and password.
func (s *imapSession) Login(username, password string) error {
	a, ok := s.lab.byUser[strings.ToLower(username)]
	if !ok {
		return imapserver.ErrAuthFailed
	}
	if err := a.user.Login(a.seed.Username, password); err != nil {
		return err
	}
	s.acct, s.UserSession = a, imapmemserver.NewUserSession(a.user)
	return nil
}

// Create makes a folder.
func (s *imapSession) Create(name string, options *imap.CreateOptions) error {
	return s.acct.create(name, options)
}

// Delete removes a folder.
func (s *imapSession) Delete(name string) error { return s.acct.delete(name) }

// Rename renames a folder.
func (s *imapSession) Rename(oldName, newName string, options *imap.RenameOptions) error {
	return s.acct.rename(oldName, newName, options)
}

// Subscribe marks a folder subscribed.
func (s *imapSession) Subscribe(name string) error { return s.acct.subscribe(name, true) }

// Unsubscribe marks a folder unsubscribed.
func (s *imapSession) Unsubscribe(name string) error { return s.acct.subscribe(name, false) }

// List answers LIST with the account's folders and their attributes.
func (s *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	return s.acct.list(w, ref, patterns, options)
}

// Idle first reports what changed since the last command, then waits for news.
// go-imap's server answers IDLE with its continuation before the session starts
// listening, and its tracker does not replay updates queued in between, so a
// message delivered in that moment would go unannounced until the next one.
// Dovecot reports such messages at once; so does the lab.
func (s *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if err := s.UserSession.Poll(w, true); err != nil {
		return err
	}
	return s.UserSession.Idle(w, stop)
}
