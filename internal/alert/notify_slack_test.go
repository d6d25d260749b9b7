package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
)

func TestSlack(t *testing.T) {
	reminder := firing()
	reminder.Repeat = 2
	odd := firing()
	odd.Summary = "mail from <monitor@example.com> & co lands in spam"
	for _, tc := range []struct {
		name  string
		event Event
		want  string
	}{
		{"firing", firing(), "[FIRING critical] p95 round trip 3m12s over 2m0s\n" +
			"default/slow, path=submission, firing since 2025-05-01 10:00:00 UTC"},
		{"reminder", reminder, "[FIRING critical] p95 round trip 3m12s over 2m0s\n" +
			"default/slow, path=submission, firing since 2025-05-01 10:00:00 UTC, reminder 2"},
		{"resolved", resolved(), "[RESOLVED critical] p95 round trip 40s, under 2m0s again\n" +
			"default/slow, path=submission, firing from 2025-05-01 10:00:00 UTC to 2025-05-01 10:45:00 UTC"},
		{"test", TestEvent(time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC), "mon1"),
			"[TEST warning] test notification from mailflow alerts test on mon1; no action needed\n" +
				"test/notifiers, check=test, sent at 2025-05-01 12:00:00 UTC"},
		{"escaped", odd, "[FIRING critical] mail from &lt;monitor@example.com&gt; &amp; co lands in spam\n" +
			"default/slow, path=submission, firing since 2025-05-01 10:00:00 UTC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
			n := newTestNotifier(t, &config.Notifier{Name: "chat", Type: config.NotifySlack,
				URL: config.NewSecret(srv.URL+"/services/T000/B000/XXXX", "file:slack.url")}, nil)
			if err := n.Notify(context.Background(), tc.event); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			r := next(t, got)
			if ct := r.header.Get("Content-Type"); ct != "application/json" || r.method != http.MethodPost {
				t.Errorf("request %s with Content-Type %q, want POST application/json", r.method, ct)
			}
			var body map[string]any
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("body %s: %v", r.body, err)
			}
			if body["text"] != tc.want || len(body) != 1 {
				t.Errorf("body %s, want only text:\n%s", r.body, tc.want)
			}
		})
	}
}

func TestSlackRefused(t *testing.T) {
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	})
	n := newTestNotifier(t, &config.Notifier{Name: "chat", Type: config.NotifySlack,
		URL: config.NewSecret(srv.URL+"/services/T0AB12/B0CD34/xyzSECRET", "file:slack.url")}, nil)
	err := n.Notify(context.Background(), firing())
	want := `notifier chat: slack answered 403 Forbidden: "invalid_token"`
	if err == nil || err.Error() != want {
		t.Errorf("Notify = %v, want %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Notify = %v, reveals the URL", err)
	}
}
