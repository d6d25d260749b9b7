package seedbox

import (
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestAssignRoles(t *testing.T) {
	list := func(names ...string) []*imap.ListData {
		var out []*imap.ListData
		for _, n := range names {
			out = append(out, &imap.ListData{Mailbox: n})
		}
		return out
	}
	withAttr := func(l []*imap.ListData, name string, a imap.MailboxAttr) []*imap.ListData {
		for _, d := range l {
			if d.Mailbox == name {
				d.Attrs = append(d.Attrs, a)
			}
		}
		return l
	}
	for _, tc := range []struct {
		name      string
		list      []*imap.ListData
		acct      Account
		inbox     string
		junk, how string
	}{
		{"special-use wins over names", withAttr(list("INBOX", "Spam", "Bulk"), "Bulk", imap.MailboxAttrJunk),
			Account{JunkNames: []string{"Spam"}}, "INBOX", "Bulk", "special-use"},
		{"provider name", list("INBOX", "[Gmail]/Spam", "[Gmail]/Sent Mail"),
			Account{JunkNames: []string{"[Gmail]/Spam"}}, "INBOX", "[Gmail]/Spam", "provider name"},
		{"first provider name that exists", list("Junk Email", "Inbox"),
			Account{JunkNames: []string{"Junk Email", "Junk"}}, "Inbox", "Junk Email", "provider name"},
		{"config beats special-use", withAttr(list("INBOX", "Junk", "Quarantine"), "Junk", imap.MailboxAttrJunk),
			Account{Junk: "Quarantine"}, "INBOX", "Quarantine", "config"},
		{"no junk folder", list("INBOX", "Archive"), Account{JunkNames: []string{"Spam"}}, "INBOX", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			folders := assignRoles(tc.list, tc.acct)
			var inbox, junk, how string
			for _, f := range folders {
				switch f.Role {
				case RoleInbox:
					inbox = f.Name
				case RoleJunk:
					junk, how = f.Name, f.How
				}
			}
			if inbox != tc.inbox || junk != tc.junk || how != tc.how {
				t.Errorf("inbox %q junk %q (%s), want %q %q (%s)", inbox, junk, how, tc.inbox, tc.junk, tc.how)
			}
			if w, err := watched(folders, "s", nil); err != nil || w[0].Name != tc.inbox {
				t.Errorf("watched = %v, %v, want the inbox first", w, err)
			}
		})
	}
}

func TestTokenOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"X-Mailflow-Probe: 00112233445566778899AABBCCDDEEFF\r\n\r\n", "00112233445566778899aabbccddeeff"},
		{"x-mailflow-probe:abc\r\n", "abc"},
		{"Subject: X-Mailflow-Probe: no\r\n", ""},
		{"", ""},
	} {
		if got := tokenOf([]byte(tc.in)); got != tc.want {
			t.Errorf("tokenOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
