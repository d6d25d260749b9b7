package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/lab"
)

// hookServer is a webhook receiver on loopback that answers with status and
// keeps what it was sent.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	received int
}

func newHookServer(t *testing.T, status int) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies, h.headers = append(h.bodies, b), append(h.headers, r.Header.Clone())
		h.received++
		h.mu.Unlock()
		w.WriteHeader(status)
		w.Write([]byte("request " + r.URL.RequestURI() + " refused")) // an answer that echoes the URL
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.received
}

// alertsConfig writes a lab config with four notifiers: good (a signed
// webhook), broken (a webhook answering 500), chat (Slack) and mail (email
// over the submission path to alice).
func alertsConfig(t *testing.T, l *lab.Lab, good, broken, chat string) string {
	t.Helper()
	cfg := labConfig(t, l, "alice")
	t.Setenv("MF_TEST_GOOD_URL", good)
	t.Setenv("MF_TEST_BROKEN_URL", broken)
	t.Setenv("MF_TEST_CHAT_URL", chat)
	t.Setenv("MF_TEST_HMAC", "hmac-k3y-SECRET")
	alice, _ := l.Seed("alice")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`
[notifiers.good]
type = "webhook"
url_env = "MF_TEST_GOOD_URL"
hmac_secret_env = "MF_TEST_HMAC"

[notifiers.broken]
type = "webhook"
url_env = "MF_TEST_BROKEN_URL"

[notifiers.chat]
type = "slack"
url_env = "MF_TEST_CHAT_URL"

[notifiers.mail]
type = "email"
path = "submission"
to = ["` + alice.Address + `"]
`); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAlertsTest(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	good, broken, chat := newHookServer(t, http.StatusNoContent), newHookServer(t, http.StatusInternalServerError), newHookServer(t, http.StatusOK)
	const secretPath = "/hooks/T0SECRET1/B0SECRET2?token=SECRET3"
	cfg := alertsConfig(t, l, good.URL+secretPath, broken.URL+secretPath, chat.URL+secretPath)

	code, out, errOut := mailflow(t, "alerts", "test", "--config", cfg)
	if code != exitFailed {
		t.Errorf("alerts test = %d, want %d (one notifier fails); stdout:\n%s\nstderr:\n%s", code, exitFailed, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	wantLines := []string{
		`broken  webhook  failed: notifier broken: webhook answered 500 Internal Server Error: "request [redacted] refused"`,
		"chat    slack    ok",
		"good    webhook  ok",
		"mail    email    ok",
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("alerts test printed\n%s\nwant\n%s", out, strings.Join(wantLines, "\n"))
	}
	for _, secret := range []string{"SECRET", "hooks/", "token=", l.Password} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("alerts test output reveals %q:\n%s%s", secret, out, errOut)
		}
	}

	// What the signed webhook received, checked as a receiver would.
	if good.count() != 1 {
		t.Fatalf("good received %d requests, want 1", good.count())
	}
	body, h := good.bodies[0], good.headers[0]
	mac := hmac.New(sha256.New, []byte("hmac-k3y-SECRET"))
	mac.Write([]byte(h.Get("X-Mailflow-Timestamp") + "." + string(body)))
	if sig := h.Get("X-Mailflow-Signature"); sig != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("X-Mailflow-Signature %q does not verify", sig)
	}
	var e alert.Event
	if err := json.Unmarshal(body, &e); err != nil || e.Status != alert.StatusTest || e.ID == "" {
		t.Errorf("good received %s (%v), want an event with status test and an id", body, err)
	}
	if n, err := l.Count("alice", "INBOX"); err != nil || n != 1 {
		t.Errorf("alice's INBOX holds %d messages (%v), want the test email", n, err)
	}

	t.Run("one notifier", func(t *testing.T) {
		before := broken.count()
		code, out, errOut := mailflow(t, "alerts", "test", "--config", cfg, "--notifier", "good")
		if code != exitOK || out != "good  webhook  ok\n" {
			t.Errorf("alerts test --notifier good = %d, %q, want 0 and one line; stderr:\n%s", code, out, errOut)
		}
		if broken.count() != before || good.count() != 2 {
			t.Errorf("broken received %d more, good %d in all; want 0 and 2", broken.count()-before, good.count())
		}
	})
}

func TestAlertsTestUsage(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hook := newHookServer(t, http.StatusOK)
	withNotifiers := alertsConfig(t, l, hook.URL, hook.URL, hook.URL)
	without := labConfig(t, l, "alice")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"alerts"}, exitUsage, `the only subcommand is "test"`},
		{"unknown subcommand", []string{"alerts", "send"}, exitUsage, `the only subcommand is "test"`},
		{"unknown flag", []string{"alerts", "test", "--config", withNotifiers, "--nope"}, exitUsage, "flag provided but not defined"},
		{"unknown notifier", []string{"alerts", "test", "--config", withNotifiers, "--notifier", "nosuch"}, exitUsage,
			`--notifier "nosuch": ` + withNotifiers + " declares no such notifier (declared: broken, chat, good, mail)"},
		{"no notifiers", []string{"alerts", "test", "--config", without}, exitFailed, "declares no notifier"},
		{"no config", []string{"alerts", "test", "--config", "/nonexistent/config.toml"}, exitFailed, "/nonexistent/config.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := mailflow(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("mailflow %v = %d, stdout %q, stderr %q; want %d, nothing on stdout, %q on stderr",
					tc.args, code, out, errOut, tc.code, tc.want)
			}
		})
	}
	if hook.count() != 0 {
		t.Errorf("the webhook received %d requests from failed invocations, want 0", hook.count())
	}
}
