package seedbox

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Folder roles.
const (
	RoleInbox = "inbox"
	RoleJunk  = "junk"
	RoleOther = "other"
)

// Folder is one mailbox of a seed and what it is for.
type Folder struct {
	Name  string
	Role  string // RoleInbox, RoleJunk or RoleOther
	Attrs []string
	// How says how the role was decided: "inbox", "special-use", "config",
	// "provider name", or "" for other folders.
	How string
}

// Folders lists the seed's folders and gives each a role: the inbox by name,
// the junk folder by the account's Junk setting, then by the \Junk SPECIAL-USE
// attribute (RFC 6154), then by the provider's folder names.
func (s *Session) Folders(ctx context.Context) ([]Folder, error) {
	var list []*imap.ListData
	err := s.Do(ctx, "list folders", func() error {
		opts := &imap.ListOptions{}
		if s.c.Caps().Has(imap.CapSpecialUse) || s.c.Caps().Has(imap.CapListExtended) {
			opts.ReturnSpecialUse = true
		}
		var err error
		list, err = s.c.List("", "*", opts).Collect()
		return err
	})
	if err != nil {
		return nil, err
	}
	return assignRoles(list, s.acct), nil
}

func assignRoles(list []*imap.ListData, acct Account) []Folder {
	inbox := acct.Inbox
	if inbox == "" {
		inbox = "INBOX"
	}
	folders := make([]Folder, 0, len(list))
	junk := -1
	junkHow := ""
	for _, l := range list {
		f := Folder{Name: l.Mailbox, Role: RoleOther}
		for _, a := range l.Attrs {
			f.Attrs = append(f.Attrs, string(a))
		}
		switch {
		case strings.EqualFold(f.Name, inbox):
			f.Role, f.How = RoleInbox, "inbox"
		case acct.Junk != "" && f.Name == acct.Junk:
			junk, junkHow = len(folders), "config"
		case acct.Junk == "" && hasAttr(l.Attrs, imap.MailboxAttrJunk) && junkHow != "special-use":
			junk, junkHow = len(folders), "special-use"
		case acct.Junk == "" && junkHow == "" && nameIn(f.Name, acct.JunkNames):
			junk, junkHow = len(folders), "provider name"
		}
		folders = append(folders, f)
	}
	if junk >= 0 {
		folders[junk].Role, folders[junk].How = RoleJunk, junkHow
	}
	sort.SliceStable(folders, func(i, j int) bool { return rank(folders[i].Role) < rank(folders[j].Role) })
	return folders
}

func rank(role string) int {
	switch role {
	case RoleInbox:
		return 0
	case RoleJunk:
		return 1
	}
	return 2
}

func hasAttr(attrs []imap.MailboxAttr, want imap.MailboxAttr) bool {
	for _, a := range attrs {
		if strings.EqualFold(string(a), string(want)) {
			return true
		}
	}
	return false
}

func nameIn(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// watched returns the folders a probe can land in: the inbox and the junk folder.
func watched(folders []Folder, seed string, extra []string) ([]Folder, error) {
	var out []Folder
	for _, f := range folders {
		if f.Role == RoleInbox || f.Role == RoleJunk {
			out = append(out, f)
		}
	}
	if len(out) == 0 || out[0].Role != RoleInbox {
		return nil, fmt.Errorf("seed %s: no inbox folder found (set inbox = \"...\" for the seed)", seed)
	}
	// Folders a provider or a user rule files mail into: a probe found there
	// is placed other:<folder>.
	for _, name := range extra {
		i := slices.IndexFunc(folders, func(f Folder) bool { return f.Name == name })
		if i < 0 {
			var names []string
			for _, f := range folders {
				names = append(names, strconv.Quote(f.Name))
			}
			return nil, fmt.Errorf("seed %s: folder %q is not on the server (folders: %s); fix the seed's folders", seed, name, strings.Join(names, " "))
		}
		if f := folders[i]; f.Role == RoleOther {
			out = append(out, f)
		}
	}
	return out, nil
}
