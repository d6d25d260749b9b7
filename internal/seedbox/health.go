package seedbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Health is what a seed health check learned about one mailbox.
type Health struct {
	Seed    string
	Login   time.Duration // connect, TLS and login
	Caps    []string      // the capabilities that matter to mailflow: IDLE, SPECIAL-USE, UIDPLUS...
	Folders []FolderHealth
}

// FolderHealth is one folder with the probe messages left in it.
type FolderHealth struct {
	Folder
	// Watched is set for the folders probes are looked for in: the inbox,
	// the junk folder and the seed's further folders. Only these are counted.
	Watched  bool
	Messages int // all messages
	Probes   int // messages with an X-Mailflow-Probe header
	Stale    int // probe messages stored before the stale limit
}

// Inspect logs in to acct, lists its folders with their roles, and counts the
// probe messages in the watched ones (inbox, junk, the seed's folders) and those older than
// staleBefore: probes that nobody deleted, which fill seed boxes over time.
func Inspect(ctx context.Context, acct Account, staleBefore time.Time, log *slog.Logger) (Health, error) {
	h := Health{Seed: acct.Name}
	start := time.Now()
	s, err := Dial(ctx, acct, log)
	if err != nil {
		return h, err
	}
	defer s.Close()
	h.Login = time.Since(start)
	for _, c := range []imap.Cap{imap.CapIdle, imap.CapSpecialUse, imap.CapUIDPlus, imap.CapMove, imap.CapIMAP4rev2, "X-GM-EXT-1"} {
		if s.Caps().Has(c) {
			h.Caps = append(h.Caps, string(c))
		}
	}
	folders, err := s.Folders(ctx)
	if err != nil {
		return h, err
	}
	w, err := watched(folders, acct.Name, acct.Extra)
	if err != nil {
		return h, err
	}
	for _, f := range folders {
		fh := FolderHealth{Folder: f, Watched: slices.ContainsFunc(w, func(x Folder) bool { return x.Name == f.Name })}
		if fh.Watched {
			if err := s.countProbes(ctx, &fh, staleBefore); err != nil {
				return h, err
			}
		}
		h.Folders = append(h.Folders, fh)
	}
	return h, nil
}

func (s *Session) countProbes(ctx context.Context, fh *FolderHealth, staleBefore time.Time) error {
	n, err := s.selectFolder(ctx, fh.Name, true)
	if err != nil {
		return err
	}
	fh.Messages = n
	probes, err := s.probes(ctx, fh.Name)
	fh.Probes = len(probes)
	for _, p := range probes {
		if p.date.Before(staleBefore) {
			fh.Stale++
		}
	}
	return err
}

func (s *Session) selectFolder(ctx context.Context, name string, readOnly bool) (int, error) {
	var n int
	err := s.Do(ctx, fmt.Sprintf("select %q", name), func() error {
		sel, err := s.c.Select(name, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
		if err == nil {
			n = int(sel.NumMessages)
		}
		return err
	})
	return n, err
}

// stored is a probe message as the folder holds it.
type stored struct {
	token string
	date  time.Time // INTERNALDATE
}

// probes returns the token and INTERNALDATE of every probe message in the
// selected folder, by UID.
func (s *Session) probes(ctx context.Context, folder string) (map[imap.UID]stored, error) {
	out := map[imap.UID]stored{}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{probeHeader}, Peek: true}
	err := s.Do(ctx, fmt.Sprintf("find probes in %q", folder), func() error {
		data, err := s.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: probeHeader}}}, nil).Wait()
		if err != nil || len(data.AllUIDs()) == 0 {
			return err
		}
		msgs, err := s.c.Fetch(imap.UIDSetNum(data.AllUIDs()...), &imap.FetchOptions{
			UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section},
		}).Collect()
		for _, m := range msgs {
			out[m.UID] = stored{token: tokenOf(m.FindBodySection(section)), date: m.InternalDate}
		}
		return err
	})
	return out, err
}

// Purge deletes from the seed's inbox and junk folder the probe messages stored
// before `before` whose token mine claims — probes of this mailflow that were
// never cleaned up (missing, late, or left by a crash) — and returns how many
// it deleted. Probes of other monitors sharing the box are left alone.
func Purge(ctx context.Context, acct Account, before time.Time, mine func(token string) bool, log *slog.Logger) (int, error) {
	s, err := Dial(ctx, acct, log)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	folders, err := s.Folders(ctx)
	if err != nil {
		return 0, err
	}
	folders, err = watched(folders, acct.Name, acct.Extra)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, f := range folders {
		if _, err := s.selectFolder(ctx, f.Name, false); err != nil {
			return deleted, err
		}
		probes, err := s.probes(ctx, f.Name)
		if err != nil {
			return deleted, err
		}
		var old []imap.UID
		for uid, p := range probes {
			if p.date.Before(before) && mine(p.token) {
				old = append(old, uid)
			}
		}
		if len(old) == 0 {
			continue
		}
		if err := s.remove(ctx, f.Name, old...); err != nil {
			return deleted, err
		}
		deleted += len(old)
	}
	return deleted, nil
}
