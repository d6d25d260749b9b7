package seedbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// probeHeader is the header field that carries a probe's token (see message.Header).
const probeHeader = "X-Mailflow-Probe"

// folderWatch watches one folder on its own connection.
type folderWatch struct {
	w      *Watcher
	folder Folder
	s      *Session
	// lastUID is the highest UID already looked at; messages at or below it are
	// not searched again.
	lastUID imap.UID
}

func (fw *folderWatch) selectFolder(ctx context.Context) error {
	return fw.s.Do(ctx, fmt.Sprintf("select %q", fw.folder.Name), func() error {
		_, err := fw.s.c.Select(fw.folder.Name, nil).Wait()
		return err
	})
}

// run searches, waits for news, and searches again until ctx ends, reconnecting
// after a dropped connection.
func (fw *folderWatch) run(ctx context.Context) {
	defer func() { fw.s.Close() }()
	failures := 0
	for ctx.Err() == nil {
		err := fw.scan(ctx)
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
		fw.s.c.Close()
		for ctx.Err() == nil {
			t := time.NewTimer(backoff(failures))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			failures++
			s, err := Dial(ctx, fw.w.acct, fw.w.log)
			if err == nil {
				fw.s = s
				if err = fw.selectFolder(ctx); err == nil {
					break
				}
				s.c.Close()
			}
			fw.w.report(err)
		}
	}
}

// wait returns when the server reports new mail (IDLE, RFC 2177), when the poll
// interval has passed, or when ctx ends.
func (fw *folderWatch) wait(ctx context.Context) error {
	timer := time.NewTimer(fw.w.acct.pollInterval())
	defer timer.Stop()
	if !fw.s.c.Caps().Has(imap.CapIdle) {
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		return nil
	}
	// A message that arrived since the last search may be announced only in
	// reply to a command: some servers (go-imap's among them) do not replay
	// queued updates when IDLE starts. NOOP collects them first.
	if err := fw.s.Do(ctx, "noop", func() error { return fw.s.c.Noop().Wait() }); err != nil {
		return err
	}
	select {
	case <-fw.s.updates:
		return nil // news already: search again
	default:
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
	case <-fw.s.c.Closed():
	}
	return fw.s.Do(context.Background(), "end idle", func() error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
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
	if len(fresh) == 0 {
		return nil
	}
	tokens, err := fw.tokens(ctx, fresh)
	if err != nil {
		return err
	}
	for _, u := range fresh {
		fw.lastUID = max(fw.lastUID, u)
		if tok := tokens[u]; tok != "" && fw.w.isExpected(tok) {
			if err := fw.collect(ctx, u, tok, seenAt); err != nil {
				return err
			}
		}
	}
	return nil
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

// collect fetches the facts of a found probe, reports it, and deletes it when the
// account asks for cleanup.
func (fw *folderWatch) collect(ctx context.Context, uid imap.UID, token string, seenAt time.Time) error {
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
	if err != nil {
		return err
	}
	if msg == nil || !fw.w.claim(token) {
		return nil // expunged meanwhile, or already reported from the other folder
	}
	f := Found{
		Seed: fw.w.acct.Name, Token: token, Folder: fw.folder.Name, Role: fw.folder.Role,
		UID: uint32(uid), InternalDate: msg.internalDate.UTC(), SeenAt: seenAt,
		Flags: msg.flags, Header: msg.header, stored: make(chan struct{}),
	}
	select {
	case fw.w.found <- f:
	case <-ctx.Done():
		return nil
	}
	if !fw.w.acct.Cleanup {
		return nil
	}
	select {
	case <-f.stored:
	case <-ctx.Done():
		select {
		case <-f.stored: // stored just before the watcher was closed
		default:
			return nil // not stored: keep the message for the next run to find
		}
	}
	// Closing the watcher must not abandon a deletion the store already allows:
	// it runs to its own timeout, and Close waits for it.
	if err := fw.remove(context.WithoutCancel(ctx), uid); err != nil {
		fw.w.log.Warn("could not delete probe message", "seed", f.Seed, "folder", f.Folder, "token", token, "err", err)
	}
	return nil
}

type imapFetched struct {
	internalDate time.Time
	flags        []string
	header       []byte
}

// remove deletes one message of the watched folder.
func (fw *folderWatch) remove(ctx context.Context, uid imap.UID) error {
	return fw.s.remove(ctx, fw.folder.Name, uid)
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
