package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/web"
)

func TestToken(t *testing.T) {
	const token = "tok-3f9a1c77e2b04d6a"
	cfg := testConfig()
	cfg.Web.Token = config.NewSecret(token, "env:MAILFLOW_WEB_TOKEN")
	f := newFixture(t, cfg, nil)
	for _, path := range []string{"/metrics", "/healthz", "/api/probes", "/api/rounds", "/api/report", "/api/alerts", "/api/probes?limit=0", "/nosuch"} {
		for _, tc := range []struct {
			name, header string
			ok           bool
		}{
			{"no header", "", false},
			{"wrong token of the same length", "Bearer " + strings.Repeat("x", len(token)), false},
			{"a prefix of the token", "Bearer " + token[:len(token)-1], false},
			{"the token and more", "Bearer " + token + "x", false},
			{"another scheme", "Basic " + token, false},
			{"the token alone", token, false},
			{"empty bearer", "Bearer ", false},
			{"bearer token", "Bearer " + token, true},
			{"scheme in lower case", "bearer " + token, true},
		} {
			req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), token) || strings.Contains(resp.Header.Get("WWW-Authenticate"), token) {
				t.Errorf("GET %s (%s): the token is echoed", path, tc.name)
			}
			if !tc.ok {
				if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("GET %s (%s) = %d, WWW-Authenticate %q; want 401 with a Bearer challenge", path, tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
				continue
			}
			want := http.StatusOK
			switch {
			case path == "/nosuch":
				want = http.StatusNotFound
			case strings.Contains(path, "limit=0"):
				want = http.StatusBadRequest
			}
			if resp.StatusCode != want {
				t.Errorf("GET %s (%s) = %d, want %d", path, tc.name, resp.StatusCode, want)
			}
		}
	}
	if strings.Contains(f.logs.String(), token) {
		t.Errorf("the token reached the log:\n%s", f.logs.String())
	}
}

func TestOnlyGET(t *testing.T) {
	f := newFixture(t, testConfig(), nil)
	resp, err := http.Post(f.base+"/api/probes", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/probes = %d, want 405", resp.StatusCode)
	}
}

func TestListenFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.Web.Listen = busy.Addr().String()
	srv := web.New(web.Options{Store: openStore(t), Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := srv.Listen()
	if err == nil {
		ln.Close()
		t.Fatalf("Listen on %s, which is in use, succeeded", cfg.Web.Listen)
	}
	if msg := err.Error(); !strings.Contains(msg, "web.listen "+cfg.Web.Listen) || !strings.Contains(msg, "in use") {
		t.Errorf("Listen error = %q, want it to name web.listen %s and say it is in use", msg, cfg.Web.Listen)
	}
}

// TestGracefulShutdown ends Serve's context while a request is in flight: the
// request is answered, then Serve returns and the port is closed.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	alerts := func(context.Context) ([]alert.State, error) {
		close(entered)
		<-release
		return []alert.State{{Alert: "default/slow/path=relay", Status: alert.StatusFiring}}, nil
	}
	srv := web.New(web.Options{Store: openStore(t), Config: testConfig(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Alerts: alerts})
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/alerts")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-entered
	cancel()
	// Shutdown closes the listener first: once it refuses connections, the
	// shutdown is under way with the request still in flight.
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "the listener to close")
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if code := <-answered; code != http.StatusOK {
		t.Errorf("request in flight at shutdown = %d, want 200", code)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after its context ended", err)
	}
}

// waitFor polls cond, which has no event to wait on, until it holds or 5
// seconds pass.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
