package verdict

import "testing"

func TestPlacementOf(t *testing.T) {
	for _, tc := range []struct {
		role   Role
		folder string
		want   Placement
	}{
		{RoleInbox, "INBOX", Inbox},
		{RoleJunk, "[Gmail]/Spam", Spam},
		{RoleJunk, "Junk Email", Spam},
		{RoleOther, "Archive", "other:Archive"},
		{RoleOther, "Lists/Ops", "other:Lists/Ops"},
		{"", "Notes", "other:Notes"},
	} {
		if got := PlacementOf(tc.role, tc.folder); got != tc.want {
			t.Errorf("PlacementOf(%q, %q) = %q, want %q", tc.role, tc.folder, got, tc.want)
		}
	}
}

func TestTabAndOther(t *testing.T) {
	if got, want := Tab("Promotions"), Placement("tab:promotions"); got != want {
		t.Errorf("Tab(%q) = %q, want %q", "Promotions", got, want)
	}
	if got, want := Other("Archive/2025"), Placement("other:Archive/2025"); got != want {
		t.Errorf("Other(%q) = %q, want %q", "Archive/2025", got, want)
	}
}

func TestPlacementBadFailed(t *testing.T) {
	for _, tc := range []struct {
		p           Placement
		bad, failed bool
	}{
		{Inbox, false, false},
		{Spam, true, false},
		{Tab("social"), false, false},
		{Other("Archive"), false, false},
		{Missing, true, false},
		{Rejected, false, true},
		{Deferred, false, true},
		{Error, false, true},
	} {
		if got := tc.p.Bad(); got != tc.bad {
			t.Errorf("%q.Bad() = %v, want %v", tc.p, got, tc.bad)
		}
		if got := tc.p.Failed(); got != tc.failed {
			t.Errorf("%q.Failed() = %v, want %v", tc.p, got, tc.failed)
		}
	}
}

func TestPlacementClass(t *testing.T) {
	for in, want := range map[Placement]Placement{
		Tab("Promotions"): "tab", Other("Receipts"): "other", Inbox: Inbox, Spam: Spam, Missing: Missing, Error: Error,
	} {
		if got := in.Class(); got != want {
			t.Errorf("%s.Class() = %s, want %s", in, got, want)
		}
	}
}
