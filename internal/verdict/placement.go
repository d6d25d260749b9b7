package verdict

import "strings"

// Placement is where a probe ended up, in the words the store and reports
// use: "inbox", "spam", "tab:<name>", "other:<folder>", "missing",
// "rejected", "deferred" or "error".
type Placement string

// Placements. Inbox and Spam come from the folder a probe was found in (see
// also Tab and Other); the others say it was not found, or never accepted.
const (
	Inbox    Placement = "inbox"
	Spam     Placement = "spam"
	Missing  Placement = "missing"  // not found by the deadline
	Rejected Placement = "rejected" // a 5xx reply: never accepted (RFC 5321 section 4.2.1)
	Deferred Placement = "deferred" // a 4xx reply: not accepted yet
	Error    Placement = "error"    // network, TLS, timeout, AUTH: mailflow could not submit or look
)

// Tab is the placement of a message filed under a provider tab, such as a
// Gmail category: "tab:" and the name in lower case.
func Tab(name string) Placement { return Placement("tab:" + strings.ToLower(name)) }

// Other is the placement of a message found in a folder that is neither the
// inbox nor the junk folder: "other:" and the folder name as the server gave
// it.
func Other(folder string) Placement { return Placement("other:" + folder) }

// Class is the placement with a tab's or a folder's name dropped: "tab" for
// every tab:<name>, "other" for every other:<folder>, else the placement
// itself. Counts, metrics and alert rules group by it.
func (p Placement) Class() Placement {
	switch {
	case strings.HasPrefix(string(p), "tab:"):
		return "tab"
	case strings.HasPrefix(string(p), "other:"):
		return "other"
	}
	return p
}

// Role is the role of the folder a probe was found in, as seedbox assigns it.
type Role string

// Folder roles.
const (
	RoleInbox Role = "inbox"
	RoleJunk  Role = "junk"
	RoleOther Role = "other"
)

// PlacementOf returns the placement of a message found in folder, whose role
// is role: Inbox, Spam, or Other(folder) for any other role.
func PlacementOf(role Role, folder string) Placement {
	switch role {
	case RoleInbox:
		return Inbox
	case RoleJunk:
		return Spam
	}
	return Other(folder)
}

// Bad reports a problem with where mail lands: filed as spam, or not found by
// the deadline. A tab or another folder is not Bad: the message arrived where
// the provider or the user sorts such mail. Failed placements are not Bad
// either; they are a different alarm.
func (p Placement) Bad() bool {
	return p == Spam || p == Missing
}

// Failed reports a probe that was never accepted for delivery, or that
// mailflow could not submit or look for: rejected, deferred or error.
func (p Placement) Failed() bool {
	return p == Rejected || p == Deferred || p == Error
}
