package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/store"
)

// Query parameters of the API and their defaults.
const (
	defaultSince = "24h"
	defaultLimit = 100
	maxLimit     = 1000
	defaultBy    = "path"
)

// query is the parsed parameters of an API request.
type query struct {
	since time.Time // zero: everything stored
	check string
	limit int
	by    string
}

// paramError is a bad query parameter: which one, and the fix.
type paramError struct {
	param, msg string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

// parseQuery reads the parameters named in allowed (since, check, limit, by)
// and refuses any other, so that a misspelt one is not silently ignored.
func (s *Server) parseQuery(v url.Values, allowed ...string) (query, *paramError) {
	q := query{limit: defaultLimit, by: defaultBy}
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			return q, &paramError{name, fmt.Sprintf("unknown parameter (this endpoint takes %s)", strings.Join(allowed, ", "))}
		}
		if len(vals) > 1 {
			return q, &paramError{name, "given more than once (give it once)"}
		}
	}
	since := defaultSince
	if v.Has("since") {
		since = v.Get("since")
	}
	window, err := config.ParseDuration(since)
	if err != nil || window < 0 {
		return q, &paramError{"since", fmt.Sprintf("%q is not a duration (e.g. 24h, 90m, 7d; 0 for everything stored)", since)}
	}
	if window > 0 {
		q.since = s.now().Add(-window)
	}
	q.check = v.Get("check")
	if v.Has("check") && q.check == "" {
		return q, &paramError{"check", "empty (name a check, or leave the parameter out for every check)"}
	}
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n < 1 || n > maxLimit {
			return q, &paramError{"limit", fmt.Sprintf("%q is not a number from 1 to %d (default %d)", v.Get("limit"), maxLimit, defaultLimit)}
		}
		q.limit = n
	}
	if v.Has("by") {
		q.by = v.Get("by")
		if !slices.Contains(store.GroupKeys, q.by) {
			return q, &paramError{"by", fmt.Sprintf("%q is not one of path, seed, provider, check (default %s)", q.by, defaultBy)}
		}
	}
	return q, nil
}

// request parses r's query, answering 400 itself when it is bad.
func (s *Server) request(w http.ResponseWriter, r *http.Request, allowed ...string) (query, bool) {
	q, perr := s.parseQuery(r.URL.Query(), allowed...)
	if perr != nil {
		writeError(w, http.StatusBadRequest, perr.param, perr.Error())
		return q, false
	}
	return q, true
}

// probes serves /api/probes: the newest probes, each as `mailflow probe
// --json` prints it.
func (s *Server) probes(w http.ResponseWriter, r *http.Request) {
	q, ok := s.request(w, r, "since", "check", "limit")
	if !ok {
		return
	}
	probes, err := s.db.RecentProbes(r.Context(), q.since, q.check, q.limit)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	out := make([]report.ProbeJSON, len(probes))
	for i, p := range probes {
		out[i] = report.ToJSON(p)
	}
	writeJSON(w, http.StatusOK, out)
}

// roundJSON is one round in /api/rounds.
type roundJSON struct {
	ID         int64      `json:"id"`
	Check      string     `json:"check"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"` // null while running, or when mailflow stopped during it
	Probes     int        `json:"probes"`
	// Placements counts probes by placement; a probe not yet final counts
	// under its state, pending or sent.
	Placements map[string]int `json:"placements"`
}

// rounds serves /api/rounds: the newest rounds and how their probes ended.
func (s *Server) rounds(w http.ResponseWriter, r *http.Request) {
	q, ok := s.request(w, r, "since", "check", "limit")
	if !ok {
		return
	}
	rounds, err := s.db.RecentRounds(r.Context(), q.since, q.check, q.limit)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	out := make([]roundJSON, len(rounds))
	for i, rd := range rounds {
		out[i] = roundJSON{ID: rd.ID, Check: rd.Check, StartedAt: rd.StartedAt, Probes: rd.Probes, Placements: rd.Placements}
		if !rd.FinishedAt.IsZero() {
			out[i].FinishedAt = &rd.FinishedAt
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// report serves /api/report: what `mailflow report --format json` prints.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	q, ok := s.request(w, r, "since", "check", "by")
	if !ok {
		return
	}
	groups, err := report.Compute(r.Context(), s.db, q.since, q.check, q.by)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if groups == nil {
		groups = []report.Group{}
	}
	writeJSON(w, http.StatusOK, groups)
}

// alertStates serves /api/alerts: every alert as it stands.
func (s *Server) alertStates(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.request(w, r); !ok {
		return
	}
	states := []alert.State{}
	if s.alerts != nil {
		got, err := s.alerts(r.Context())
		if err != nil {
			s.log.Warn("api: alerts failed", "err", err)
			writeError(w, http.StatusInternalServerError, "", "the alert states could not be read (see mailflow's log)")
			return
		}
		states = append(states, got...)
	}
	writeJSON(w, http.StatusOK, states)
}

// healthJSON is the body of /healthz.
type healthJSON struct {
	// Status is ok, or unavailable when the store does not answer.
	Status        string  `json:"status"`
	Store         string  `json:"store"` // ok, or why not
	UptimeSeconds float64 `json:"uptime_seconds"`
}

// healthTimeout bounds the store query of /healthz. The store has one
// connection, so a long report can delay the answer.
const healthTimeout = 5 * time.Second

// healthz serves /healthz: 200 when the store answers a query, else 503.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.request(w, r); !ok {
		return
	}
	h := healthJSON{Status: "ok", Store: "ok", UptimeSeconds: s.now().Sub(s.started).Seconds()}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("health check: store does not answer", "err", err)
		h.Status, h.Store = "unavailable", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// storeFailed answers 500 and logs why; the reason stays in the log.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Warn("api: store query failed", "url", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "", "the store could not answer (see mailflow's log)")
}

// errorJSON is the body of every error answer.
type errorJSON struct {
	Error string `json:"error"`
	// Parameter names the bad query parameter of a 400.
	Parameter string `json:"parameter,omitempty"`
}

func writeError(w http.ResponseWriter, code int, param, msg string) {
	writeJSON(w, code, errorJSON{Error: msg, Parameter: param})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // the status is sent; a failed write is the client's to see
}
