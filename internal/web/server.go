// Package web is the daemon's HTTP listener: Prometheus metrics (/metrics), a
// JSON API over the store (/api/probes, /api/rounds, /api/report,
// /api/alerts) and /healthz. It reads the store and is told of each finished
// round; it does not run probes (see runner) or evaluate alert rules (see
// alert, whose states it is handed as a function).
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
)

// Options are what a Server is made of.
type Options struct {
	Store  *store.DB
	Config *config.Config
	Log    *slog.Logger
	// Alerts returns the alerts as they stand, for /api/alerts and
	// mailflow_alerts_firing; nil serves an empty list and no such metric.
	Alerts AlertsFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the listener of the config's [web] table. Make one with New.
type Server struct {
	db      *store.DB
	cfg     *config.Config
	log     *slog.Logger
	alerts  AlertsFunc
	now     func() time.Time
	started time.Time
	metrics *metrics
}

// Timeouts of the HTTP server. WriteTimeout leaves room for /api/report over
// a large store.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
	// shutdownGrace bounds how long requests in flight may finish after a stop.
	shutdownGrace = 5 * time.Second
)

// New returns a Server; it neither listens nor reads the store yet.
func New(o Options) *Server {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{db: o.Store, cfg: o.Config, log: o.Log, alerts: o.Alerts, now: now, started: now()}
	s.metrics = newMetrics(o.Config, now, o.Log, o.Alerts)
	return s
}

// Load sets the last-probe, last-round and certificate gauges from the last
// finished round of each check in the store, so that a restart does not blank
// them. Call it before the first round ends.
func (s *Server) Load(ctx context.Context) error {
	if err := s.metrics.load(ctx, s.db); err != nil {
		return fmt.Errorf("metrics from the store: %w", err)
	}
	return nil
}

// ObserveRound adds a finished round's final probes to the metrics. A probe
// still waited for (mailflow was stopping) is left out, and a round observed
// twice counts each probe once.
func (s *Server) ObserveRound(round runner.Round) { s.metrics.observeRound(round) }

// Handler returns every route, behind the bearer token when one is set.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /api/probes", s.probes)
	mux.HandleFunc("GET /api/rounds", s.rounds)
	mux.HandleFunc("GET /api/report", s.report)
	mux.HandleFunc("GET /api/alerts", s.alertStates)
	mux.HandleFunc("GET /healthz", s.healthz)
	return s.authorize(mux)
}

// authorize requires "Authorization: Bearer <token>" on every request, /healthz
// and /metrics included, when [web] has a token: one rule, with no path that
// answers without it. The token is compared in constant time, as digests of
// equal length, and never logged or echoed.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if !s.cfg.Web.Token.IsSet() {
			next.ServeHTTP(w, r)
			return
		}
		want := sha256.Sum256([]byte(s.cfg.Web.Token.Reveal()))
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		// RFC 6750 section 2.1; the scheme is case-insensitive (RFC 9110 section 11.1).
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mailflow"`)
			writeError(w, http.StatusUnauthorized, "", "a bearer token is required: send Authorization: Bearer <the token of [web] token_env or token_file>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Listen opens the configured address. Its error names the address and what
// to do.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Web.Listen)
	if err != nil {
		return nil, fmt.Errorf("web.listen %s: %w (free the address, or set [web] listen to another address or \"off\")", s.cfg.Web.Listen, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx ends, then lets requests in flight finish (for
// up to 5s) and returns. It returns an error only when serving failed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("web listening", "addr", ln.Addr().String(), "bearer_token", s.cfg.Web.Token.IsSet())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("web: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(stop)
	if err != nil {
		srv.Close()
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("web: serve %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		return fmt.Errorf("web: shut down %s: %w", ln.Addr(), err)
	}
	return nil
}
