package seedbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// probeHeader is the header field that carries a probe's token (see message.Header).
const probeHeader = "X-Mailflow-Probe"

// folderWatch watches one folder on its own connection, which it holds while
// there is something to look for or nobody else waits for the host.
type folderWatch struct {
	w      *Watcher
	folder Folder
	s      *Session // nil while the folder holds no connection
	// lastUID is the highest UID already looked at; messages at or below it are
	// not searched again while uidValidity holds.
	lastUID     imap.UID
	uidValidity uint32
	// unclaimed holds probe messages already looked at whose token nobody
	// expected then, by UID. A probe resumed after a restart is expected only
	// once its message is in the folder, maybe after a scan passed it.
	unclaimed map[imap.UID]string
	// since is when the current connection started watching the folder.
	since time.Time

	mu sync.Mutex
	// doomed holds found messages whose facts are stored, to delete.
	doomed []imap.UID
	// poke wakes the watcher when a deletion is queued.
	poke chan struct{}
}

// maxUnclaimed bounds the probe messages a folder remembers for probes not
// yet expected; beyond it, housekeeping's purge is what finds them.
const maxUnclaimed = 1000

func (fw *folderWatch) selectFolder(ctx context.Context) error {
	return fw.s.Do(ctx, fmt.Sprintf("select %q", fw.folder.Name), func() error {
		data, err := fw.s.c.Select(fw.folder.Name, nil).Wait()
		fw.since = time.Now()
		if err == nil && data.UIDValidity != fw.uidValidity {
			// A new UID space: start over, and forget deletions by old UIDs
			// (housekeeping purges what they would have deleted).
			fw.uidValidity, fw.lastUID, fw.unclaimed = data.UIDValidity, 0, nil
			fw.mu.Lock()
			fw.doomed = nil
			fw.mu.Unlock()
		}
		return err
	})
}

// run searches, waits for news, and searches again until ctx ends, reconnecting
// after a dropped connection and taking turns when the host is contended.
func (fw *folderWatch) run(ctx context.Context) {
	defer fw.hangUp()
	failures := 0
	for ctx.Err() == nil {
		if fw.s == nil {
			if !fw.busy() {
				fw.idle(ctx)
				continue
			}
			if err := fw.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				fw.w.report(err)
				fw.w.log.Warn("imap watcher cannot connect", "seed", fw.w.acct.Name, "folder", fw.folder.Name, "err", err)
				fw.sleep(ctx, backoff(failures))
				failures++
				continue
			}
		}
		err := fw.scan(ctx)
		if err == nil {
			err = fw.deleteStored(ctx)
		}
		if err == nil && fw.contended() {
			// Others wait for this host: hand the slot on, come back later.
			fw.hangUp()
			if fw.busy() {
				fw.sleep(ctx, fw.w.acct.pollInterval())
			}
			continue
		}
		if err == nil {
			err = fw.wait(ctx)
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		fw.w.report(err)
		fw.w.log.Warn("imap watcher lost its connection", "seed", fw.w.acct.Name, "folder", fw.folder.Name, "err", err)
		if fw.s != nil { // nil when a Gmail tab lookup could not reconnect
			fw.s.abort()
			fw.s = nil
		}
		fw.sleep(ctx, backoff(failures))
		failures++
	}
}

// connect logs in (waiting for a slot at the host) and selects the folder.
func (fw *folderWatch) connect(ctx context.Context) error {
	s, err := Dial(ctx, fw.w.acct, fw.w.log)
	if err != nil {
		return err
	}
	fw.s = s
	if err := fw.selectFolder(ctx); err != nil {
		s.abort()
		fw.s = nil
		return err
	}
	return nil
}

// hangUp deletes what may be deleted and logs out, freeing the host slot.
// A deletion the store already allows is not abandoned on the way out, even
// when the watcher is closing or its connection broke: it gets one more
// connection, bounded by the account's timeout.
func (fw *folderWatch) hangUp() {
	if fw.hasDoomed() {
		if fw.s != nil && closed(fw.s) {
			fw.s.abort()
			fw.s = nil
		}
		var err error
		if fw.s == nil {
			ctx, cancel := context.WithTimeout(context.Background(), fw.w.acct.timeout())
			err = fw.connect(ctx)
			cancel()
		}
		if err == nil {
			err = fw.deleteStored(context.Background())
		}
		if err != nil {
			fw.w.log.Warn("could not delete probe messages; housekeeping will", "seed", fw.w.acct.Name, "folder", fw.folder.Name, "err", err)
		}
	}
	if fw.s != nil {
		fw.s.Close()
		fw.s = nil
	}
}

func closed(s *Session) bool {
	select {
	case <-s.c.Closed():
		return true
	default:
		return false
	}
}

func (fw *folderWatch) hasDoomed() bool {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return len(fw.doomed) > 0
}

// busy reports whether the folder has work: tokens to look for or messages to delete.
func (fw *folderWatch) busy() bool {
	if ok, _ := fw.w.waiting(); ok {
		return true
	}
	return fw.hasDoomed()
}

// idle waits, holding no connection, until there is work or ctx ends.
func (fw *folderWatch) idle(ctx context.Context) {
	ok, more := fw.w.waiting()
	if ok {
		return
	}
	select {
	case <-ctx.Done():
	case <-more:
	case <-fw.poke:
	}
}

func (fw *folderWatch) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// contended reports whether other connections wait for a slot at the host
// and this folder is one of those that should hand theirs on: one per
// waiter, and always a folder with nothing to look for.
func (fw *folderWatch) contended() bool {
	select {
	case <-fw.contention():
		picked := fw.w.acct.Limiter.Yield(fw.w.acct.Host)
		return picked || !fw.busy()
	default:
		return false
	}
}

// contention is closed while others wait for the host; nil (never ready)
// without a Limiter.
func (fw *folderWatch) contention() <-chan struct{} {
	if fw.w.acct.Limiter == nil {
		return nil
	}
	return fw.w.acct.Limiter.Contended(fw.w.acct.Host)
}

// wait returns when the server reports new mail (IDLE, RFC 2177), when the poll
// interval has passed, when a deletion is queued, when another connection
// waits for the host, or when ctx ends.
func (fw *folderWatch) wait(ctx context.Context) error {
	interval := fw.w.acct.pollInterval()
	fast := fw.w.fastPolling()
	if fast {
		interval = fw.w.acct.FastPoll
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	// Wake when others start waiting for the host; if some wait already, this
	// folder was not picked to yield (see contended), and waits as usual.
	contention := fw.contention()
	select {
	case <-contention:
		contention = nil
	default:
	}
	if fast || fw.w.acct.NoIDLE || !fw.s.c.Caps().Has(imap.CapIdle) {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-fw.poke:
		case <-contention:
		}
		// A server shows a session new mail only when it syncs the mailbox,
		// which SEARCH alone need not do (Dovecot does not): NOOP first.
		return fw.noop(ctx)
	}
	// A message that arrived since the last search may be announced only in
	// reply to a command: some servers (go-imap's among them) do not replay
	// queued updates when IDLE starts. NOOP collects them first.
	if err := fw.noop(ctx); err != nil {
		return err
	}
	select {
	case <-fw.s.updates:
		return nil // news already: search again
	default:
	}
	// With fast polling configured, a newly expected probe ends the IDLE so
	// that polling starts at once. (A probe whose message this folder already
	// passed, see unclaimed, is found at the next poll interval.)
	var more <-chan struct{}
	if fw.w.acct.FastPoll > 0 {
		_, more = fw.w.waiting()
	}
	var idle *imapclient.IdleCommand
	err := fw.s.Do(ctx, fmt.Sprintf("idle in %q", fw.folder.Name), func() error {
		var err error
		idle, err = fw.s.c.Idle() // returns once the server has accepted IDLE
		return err
	})
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-timer.C:
	case <-fw.s.updates:
	case <-fw.poke:
	case <-contention:
	case <-more:
	case <-fw.s.c.Closed():
	}
	return fw.s.Do(context.Background(), "end idle", func() error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
}

func (fw *folderWatch) noop(ctx context.Context) error {
	return fw.s.Do(ctx, "noop", func() error { return fw.s.c.Noop().Wait() })
}

// scan finds new probe messages in the folder and reports the expected ones.
func (fw *folderWatch) scan(ctx context.Context) error {
	name := fw.folder.Name
	criteria := &imap.SearchCriteria{
		UID: []imap.UIDSet{{imap.UIDRange{Start: fw.lastUID + 1, Stop: 0}}},
		// RFC 3501 section 6.4.4: an empty string matches every message that has the field.
		Header: []imap.SearchCriteriaHeaderField{{Key: probeHeader, Value: ""}},
	}
	var uids []imap.UID
	err := fw.s.Do(ctx, fmt.Sprintf("search %q", name), func() error {
		data, err := fw.s.c.UIDSearch(criteria, nil).Wait()
		if err == nil {
			uids = data.AllUIDs()
		}
		return err
	})
	seenAt := time.Now() // keeps the monotonic reading for latency
	if err != nil {
		return err
	}
	// "n:*" also matches the highest UID when it is below n (RFC 3501 section 6.4.8).
	var fresh []imap.UID
	for _, u := range uids {
		if u > fw.lastUID {
			fresh = append(fresh, u)
		}
	}
	tokens := map[imap.UID]string{}
	if len(fresh) > 0 {
		if tokens, err = fw.tokens(ctx, fresh); err != nil {
			return err
		}
	}
	for u, tok := range fw.unclaimed {
		if fw.w.isExpected(tok) {
			fresh, tokens[u] = append(fresh, u), tok
			delete(fw.unclaimed, u)
		}
	}
	var found []*Found
	for _, u := range fresh {
		fw.lastUID = max(fw.lastUID, u)
		tok := tokens[u]
		switch {
		case tok == "":
		case fw.w.isExpected(tok):
			f, err := fw.fetchFound(ctx, u, tok, seenAt)
			if err != nil {
				return err
			}
			if f != nil {
				found = append(found, f)
			}
		case len(fw.unclaimed) < maxUnclaimed:
			if fw.unclaimed == nil {
				fw.unclaimed = map[imap.UID]string{}
			}
			fw.unclaimed[u] = tok
		}
	}
	var err2 error
	if len(found) > 0 && fw.folder.Role == RoleInbox && fw.s.Caps().Has(capGmail) {
		err2 = fw.gmailTabs(ctx, found) // an error here is the reconnect's: the probes still go out
	}
	for _, f := range found {
		fw.emit(f)
	}
	return err2
}

// gmailTabs sets the Gmail tab of each found inbox message. go-imap cannot
// ask, so the folder's session hands its host slot to a small client of our
// own for the question (see gmail.go) and then takes it back: the host never
// sees one connection more. A failed lookup leaves the tab unknown and is
// logged; the probes still count as found in the inbox.
func (fw *folderWatch) gmailTabs(ctx context.Context, found []*Found) error {
	uids := make([]imap.UID, len(found))
	for i, f := range found {
		uids[i] = imap.UID(f.UID)
	}
	release := fw.s.release // the slot goes to the lookup, then to the new session
	fw.s.logout()
	fw.s = nil
	tabs, err := lookupTabs(ctx, fw.w.acct, fw.folder.Name, uids)
	if err != nil {
		fw.w.log.Warn("could not read the Gmail tabs of found probes", "seed", fw.w.acct.Name, "err", err)
	}
	for _, f := range found {
		f.Tab = tabs[imap.UID(f.UID)]
	}
	s, err := dialHeld(ctx, fw.w.acct, fw.w.log, release)
	if err != nil {
		return err
	}
	fw.s = s
	if err := fw.selectFolder(ctx); err != nil {
		return err
	}
	// Mail that arrived during the lookup was announced to the old session:
	// search again at once.
	select {
	case s.updates <- struct{}{}:
	default:
	}
	return nil
}

func lookupTabs(ctx context.Context, acct Account, inbox string, uids []imap.UID) (map[imap.UID]string, error) {
	r, err := dialRaw(ctx, acct)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.tabs(inbox, uids)
}

// tokens fetches only the probe header of new messages: other monitors' probes
// and ordinary mail are never read further.
func (fw *folderWatch) tokens(ctx context.Context, uids []imap.UID) (map[imap.UID]string, error) {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{probeHeader}, Peek: true}
	out := map[imap.UID]string{}
	err := fw.s.Do(ctx, fmt.Sprintf("fetch tokens in %q", fw.folder.Name), func() error {
		msgs, err := fw.s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		for _, m := range msgs {
			out[m.UID] = tokenOf(m.FindBodySection(section))
		}
		return err
	})
	return out, err
}

// tokenOf reads the probe token from a header block.
func tokenOf(header []byte) string {
	for _, line := range strings.Split(string(header), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), probeHeader) {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// fetchFound fetches the facts of a found probe; once they are stored, the
// message is deleted when the account asks for cleanup (see Found.Stored).
func (fw *folderWatch) fetchFound(ctx context.Context, uid imap.UID, token string, seenAt time.Time) (*Found, error) {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	var msg *imapFetched
	err := fw.s.Do(ctx, fmt.Sprintf("fetch probe in %q", fw.folder.Name), func() error {
		msgs, err := fw.s.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section},
		}).Collect()
		if err == nil && len(msgs) == 1 {
			m := msgs[0]
			msg = &imapFetched{internalDate: m.InternalDate, header: m.FindBodySection(section)}
			for _, f := range m.Flags {
				msg.flags = append(msg.flags, string(f))
			}
		}
		return err
	})
	if err != nil || msg == nil {
		return nil, err // nil, nil: expunged meanwhile
	}
	f := &Found{
		Seed: fw.w.acct.Name, Token: token, Folder: fw.folder.Name, Role: fw.folder.Role,
		UID: uint32(uid), InternalDate: msg.internalDate.UTC(), SeenAt: seenAt,
		Flags: msg.flags, Header: msg.header,
		// INTERNALDATE often has whole seconds: only a second earlier is surely earlier.
		Unwatched: msg.internalDate.Before(fw.since.Truncate(time.Second)),
	}
	if fw.w.acct.Cleanup {
		f.stored = func() { fw.doom(uid) }
	}
	return f, nil
}

// emit reports a found probe to the round that expects it, once.
func (fw *folderWatch) emit(f *Found) {
	sink := fw.w.claim(f.Token)
	if sink == nil {
		return // already reported from the other folder, or forgotten
	}
	select {
	case sink <- *f:
	default:
		fw.w.log.Error("probe found but its round has no room for it; it stays for housekeeping", "seed", f.Seed, "token", f.Token)
	}
}

// doom queues a stored probe's message for deletion and wakes the watcher.
func (fw *folderWatch) doom(uid imap.UID) {
	fw.mu.Lock()
	fw.doomed = append(fw.doomed, uid)
	fw.mu.Unlock()
	select {
	case fw.poke <- struct{}{}:
	default:
	}
}

// deleteStored deletes the queued messages. On failure they stay queued.
func (fw *folderWatch) deleteStored(ctx context.Context) error {
	fw.mu.Lock()
	uids := fw.doomed
	fw.mu.Unlock()
	if len(uids) == 0 {
		return nil
	}
	if err := fw.s.remove(ctx, fw.folder.Name, uids...); err != nil {
		return err
	}
	fw.mu.Lock()
	fw.doomed = fw.doomed[min(len(uids), len(fw.doomed)):]
	fw.mu.Unlock()
	return nil
}

type imapFetched struct {
	internalDate time.Time
	flags        []string
	header       []byte
}

// remove deletes messages of the selected folder: UID EXPUNGE (RFC 4315) where
// offered, so messages other clients marked deleted are left alone; plain
// EXPUNGE otherwise.
func (s *Session) remove(ctx context.Context, folder string, uids ...imap.UID) error {
	set := imap.UIDSetNum(uids...)
	return s.Do(ctx, fmt.Sprintf("delete probes in %q", folder), func() error {
		if err := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return err
		}
		if s.c.Caps().Has(imap.CapUIDPlus) {
			return s.c.UIDExpunge(set).Close()
		}
		return s.c.Expunge().Close()
	})
}
