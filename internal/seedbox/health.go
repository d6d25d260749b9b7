package seedbox

import (
	"context"
	"fmt"
	"log/slog"
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
	Messages int // all messages
	Probes   int // messages with an X-Mailflow-Probe header
	Stale    int // probe messages stored before the stale limit
}

// Inspect logs in to acct, lists its folders with their roles, and counts the
// probe messages in the watched ones (inbox and junk) and those older than
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
	if _, err := watched(folders, acct.Name); err != nil {
		return h, err
	}
	for _, f := range folders {
		fh := FolderHealth{Folder: f}
		if f.Role != RoleOther {
			if err := s.countProbes(ctx, &fh, staleBefore); err != nil {
				return h, err
			}
		}
		h.Folders = append(h.Folders, fh)
	}
	return h, nil
}

func (s *Session) countProbes(ctx context.Context, fh *FolderHealth, staleBefore time.Time) error {
	return s.Do(ctx, fmt.Sprintf("count probes in %q", fh.Name), func() error {
		sel, err := s.c.Select(fh.Name, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return err
		}
		fh.Messages = int(sel.NumMessages)
		data, err := s.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: probeHeader}}}, nil).Wait()
		if err != nil {
			return err
		}
		uids := data.AllUIDs()
		fh.Probes = len(uids)
		if len(uids) == 0 {
			return nil
		}
		msgs, err := s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true}).Collect()
		for _, m := range msgs {
			if m.InternalDate.Before(staleBefore) {
				fh.Stale++
			}
		}
		return err
	})
}
