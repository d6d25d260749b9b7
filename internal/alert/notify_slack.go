package alert

import (
	"encoding/json"
	"strings"

	"github.com/mailflow/mailflow/internal/config"
)

// newSlack posts {"text": ...} to a Slack-compatible incoming webhook
// (Slack, Mattermost, Rocket.Chat, Discord's /slack endpoint): one message a
// person reads at a glance, and nothing the receivers differ on.
func newSlack(n *config.Notifier) (Notifier, error) {
	return newHook(n, "slack", func(e Event) ([]byte, error) {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{slackText(e)})
	})
}

// slackText is the message the Slack notifier posts: the status and the
// summary, then which alert it is and since when.
//
//	[FIRING critical] p95 round trip 3m12s over 2m0s
//	default/slow, path=submission, firing since 2025-05-01 10:00:00 UTC
func slackText(e Event) string {
	line1 := label(e) + " " + e.Summary
	line2 := ruleKey(e) + ", " + e.Group + ", " + when(e)
	return slackEscape(line1 + "\n" + line2)
}

// slackEscape escapes the three characters Slack's message format gives a
// meaning to, so an address like <a@b> shows as written.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
