package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
)

// request is what a test server received.
type request struct {
	method, path string
	header       http.Header
	body         []byte
}

// receiver starts an HTTP server on loopback that answers every request with
// handle (200 when nil) and hands what it received to the returned channel.
func receiver(t *testing.T, handle http.HandlerFunc) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.URL.RequestURI(), r.Header.Clone(), body}
		if handle != nil {
			handle(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// next returns the request the server received, or fails the test.
func next(t *testing.T, got <-chan request) request {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the server received no request")
	}
	return request{}
}

func webhookNotifier(t *testing.T, url, key string, timeout time.Duration) Notifier {
	t.Helper()
	n := &config.Notifier{Name: "oncall", Type: config.NotifyWebhook, URL: config.NewSecret(url, "env:HOOK_URL"), Timeout: timeout}
	if key != "" {
		n.HMACKey = config.NewSecret(key, "env:HOOK_KEY")
	}
	return newTestNotifier(t, n, nil)
}

func TestWebhookPostsTheEvent(t *testing.T) {
	sent := time.Date(2025, 5, 1, 10, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		key   string
		event Event
	}{
		{"unsigned firing", "", firing()},
		{"signed firing", "k3y-0f-the-receiver", firing()},
		{"signed resolved", "k3y-0f-the-receiver", resolved()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := receiver(t, nil)
			n := webhookNotifier(t, srv.URL+"/hook/abc", tc.key, 5*time.Second)
			n.(*hook).now = func() time.Time { return sent }
			if err := n.Notify(context.Background(), tc.event); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			r := next(t, got)
			if r.method != http.MethodPost || r.path != "/hook/abc" {
				t.Errorf("request %s %s, want POST /hook/abc", r.method, r.path)
			}
			for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "mailflow"} {
				if v := r.header.Get(k); v != want {
					t.Errorf("%s: %q, want %q", k, v, want)
				}
			}
			var e Event
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatalf("body %s: %v", r.body, err)
			}
			if !reflect.DeepEqual(e, tc.event) {
				t.Errorf("body decodes to\n%+v\nwant\n%+v", e, tc.event)
			}
			ts, sig := r.header.Get("X-Mailflow-Timestamp"), r.header.Get("X-Mailflow-Signature")
			if tc.key == "" {
				if ts != "" || sig != "" {
					t.Errorf("unsigned request has timestamp %q, signature %q; want neither", ts, sig)
				}
				return
			}
			if ts != strconv.FormatInt(sent.Unix(), 10) {
				t.Errorf("X-Mailflow-Timestamp: %q, want %d", ts, sent.Unix())
			}
			// What a receiver does, written out without the package's code.
			mac := hmac.New(sha256.New, []byte(tc.key))
			mac.Write([]byte(ts + "." + string(r.body)))
			want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
			if !hmac.Equal([]byte(sig), []byte(want)) {
				t.Errorf("X-Mailflow-Signature: %q, want %q", sig, want)
			}
			bodyOnly := hmac.New(sha256.New, []byte(tc.key))
			bodyOnly.Write(r.body)
			if sig == "sha256="+hex.EncodeToString(bodyOnly.Sum(nil)) {
				t.Error("the signature does not cover the timestamp")
			}
		})
	}
}

// TestWebhookErrorsHideTheURL makes a webhook fail every way it can and
// checks that no error names the URL or any part of its path or query.
func TestWebhookErrorsHideTheURL(t *testing.T) {
	const secretPath = "/hooks/T0SECRET01/B0SECRET02/xoxbSECRET03"
	const secretQuery = "token=QSECRET04&sig=QSECRET05"
	redirected := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so that the server notices a client that hangs up.
		io.Copy(io.Discard, r.Body)
		mode, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch mode {
		case "elsewhere":
			redirected <- struct{}{}
		case "500":
			// A server that echoes the request in its answer, the URL
			// across the point where the error cuts the answer.
			http.Error(w, strings.Repeat("-", answerShown-30)+" cannot handle "+r.URL.String()+" for "+r.Host, http.StatusInternalServerError)
		case "404":
			http.NotFound(w, r)
		case "302":
			http.Redirect(w, r, "/elsewhere/?from="+r.URL.RawQuery, http.StatusFound)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		mode    string
		base    string
		timeout time.Duration
		ctx     func() context.Context
		want    []string
		is      error
	}{
		{mode: "500", base: srv.URL, want: []string{"notifier oncall: webhook answered 500 Internal Server Error", "cannot handle"}},
		{mode: "404", base: srv.URL, want: []string{"notifier oncall: webhook answered 404 Not Found"}},
		{mode: "302", base: srv.URL, want: []string{"notifier oncall: webhook answered 302 Found"}},
		{mode: "hang", base: srv.URL, timeout: 300 * time.Millisecond, want: []string{"notifier oncall: webhook post: no answer within 300ms"}},
		{mode: "refused", base: refused, want: []string{"notifier oncall: webhook post: dial tcp", "connection refused"}},
		{mode: "cancelled", base: srv.URL, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, want: []string{"notifier oncall: webhook post: context canceled"}, is: context.Canceled},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			url := tc.base + "/" + tc.mode + secretPath + "?" + secretQuery
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			n := webhookNotifier(t, url, "hm4c-SECRET06", timeout)
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			start := time.Now()
			err := n.Notify(ctx, firing())
			if err == nil {
				t.Fatal("Notify = nil, want an error")
			}
			if d := time.Since(start); d > timeout+5*time.Second {
				t.Errorf("Notify took %s, over its %s timeout", d, timeout)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Notify = %q, want it to contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Notify = %v, want errors.Is %v", err, tc.is)
			}
			secrets := []string{url, secretPath, secretQuery, "hm4c-SECRET06"}
			secrets = append(secrets, strings.Split(strings.Trim(secretPath, "/"), "/")...)
			secrets = append(secrets, "QSECRET04", "QSECRET05", "SECRET")
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Notify = %q, reveals %q", err, s)
				}
			}
		})
	}
	select {
	case <-redirected:
		t.Error("the webhook followed a redirect")
	default:
	}
}

func TestWebhookRefusesABadURL(t *testing.T) {
	for _, url := range []string{"ftp://example.com/SECRETPATH", "http://exa mple.com/SECRETPATH", "hooks.example.com/SECRETPATH", "http:///SECRETPATH"} {
		n := &config.Notifier{Name: "oncall", Type: config.NotifyWebhook, URL: config.NewSecret(url, "env:HOOK_URL"), Timeout: time.Second}
		_, err := NewNotifier(n, nil, testPaths)
		if err == nil || strings.Contains(err.Error(), "SECRETPATH") || !strings.Contains(err.Error(), "env:HOOK_URL") {
			t.Errorf("NewNotifier(url %q) = %v, want an error naming env:HOOK_URL and not the URL", url, err)
		}
	}
}
