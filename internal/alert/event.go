// Package alert turns stored probes into alerts: it evaluates each check's
// rules ([checks.NAME.alerts.RULE]), moves every alert through pending →
// firing → resolved with its state kept in the store, and hands notifications
// to the notifiers (webhook, Slack-compatible, command, email) through an
// outbox in the same database, so that a restart neither loses nor repeats one.
package alert

import "time"

// Alert statuses, as notifications and /api/alerts name them.
const (
	StatusPending  = "pending"  // the condition holds, its `for` has not elapsed
	StatusFiring   = "firing"   // notified
	StatusResolved = "resolved" // the condition has been false for resolve_after
	StatusTest     = "test"     // `mailflow alerts test`
)

// Event is one notification: the documented JSON body of a webhook, the
// standard input of a command, the content of an email. Field names are part
// of mailflow's interface; add fields, never rename them.
type Event struct {
	// ID identifies this notification; a receiver may drop one it has seen.
	ID string `json:"id"`
	// Status is firing, resolved or test.
	Status string `json:"status"`
	// Alert is "check/rule/group", unique among alerts.
	Alert    string `json:"alert"`
	Check    string `json:"check"`
	Rule     string `json:"rule"`
	Kind     string `json:"kind"`     // latency, placement, auth, smtp, tls
	Severity string `json:"severity"` // critical or warning
	// Group is the probes the alert is about: "path=submission", "seed=gmail-1",
	// "provider=gmail" or "check=default".
	Group string `json:"group"`
	// Summary says in one line what is wrong (or that it is no longer).
	Summary string `json:"summary"`
	// Value is what was measured against Threshold: seconds for latency,
	// percent for a rate, a count of probes or of failures otherwise.
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Probes are tokens of probes that show the problem (at most 10).
	Probes []string `json:"probes,omitempty"`
	// StartsAt is when the alert began firing; EndsAt when it resolved.
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// Repeat counts re-notifications of a firing alert (0 for the first).
	Repeat int `json:"repeat"`
	// At is when the notification was made.
	At time.Time `json:"at"`
}

// State is one alert as it stands, as /api/alerts shows it.
type State struct {
	Alert    string `json:"alert"`
	Check    string `json:"check"`
	Rule     string `json:"rule"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Group    string `json:"group"`
	// Status is pending, firing or resolved.
	Status string `json:"status"`
	// Since is when the alert entered Status.
	Since   time.Time `json:"since"`
	Summary string    `json:"summary"`
	Value   float64   `json:"value"`
	// Notified is when the last notification was made (zero: none).
	Notified time.Time `json:"notified,omitzero"`
}
