package verdict

import "strings"

// Placement is where a probe ended up.
type Placement string

// Placements. Inbox, Spam, Tab and Other come from the folder a probe was found
// in; the others say it was never found or never accepted.
const (
	Inbox    Placement = "inbox"
	Spam     Placement = "spam"
	Missing  Placement = "missing"  // not found by the deadline
	Rejected Placement = "rejected" // a 5xx reply: never accepted
	Deferred Placement = "deferred" // a 4xx reply
	Error    Placement = "error"    // network, TLS, timeout, AUTH: mailflow could not submit or look
)

// Tab is the placement of a message filed under a provider tab (Gmail categories).
func Tab(name string) Placement { return Placement("tab:" + strings.ToLower(name)) }

// Other is the placement of a message found in a folder that is neither the
// inbox nor the junk folder.
func Other(folder string) Placement { return Placement("other:" + folder) }

// Role is the role of the folder a probe was found in.
type Role string

// Folder roles.
const (
	RoleInbox Role = "inbox"
	RoleJunk  Role = "junk"
	RoleOther Role = "other"
)

// PlacementOf returns the placement of a message found in folder with role.
func PlacementOf(role Role, folder string) Placement {
	switch role {
	case RoleInbox:
		return Inbox
	case RoleJunk:
		return Spam
	}
	return Other(folder)
}

// Bad reports a problem with where mail lands: spam, a tab, another folder, missing.
func (p Placement) Bad() bool {
	return p != Inbox && !p.Failed()
}

// Failed reports a probe that was never accepted for delivery.
func (p Placement) Failed() bool {
	return p == Rejected || p == Deferred || p == Error
}
