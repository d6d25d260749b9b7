package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/runner"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/submit"
	"github.com/mailflow/mailflow/internal/verdict"
)

// Every label value comes from a name in the config (check, path, seed,
// provider, the path's TLS server name, alert rule) or from one of the fixed
// sets below, so the number of series is bounded by the config; README
// "Metrics and API" states each bound. Probes of names no longer configured
// are left out.

// Label values of mailflow_probes_total{placement}.
var placementValues = []string{"inbox", "spam", "tab", "other", "missing", "rejected", "deferred", "error"}

// Label values of mailflow_smtp_stage_outcomes_total{outcome}: ok for a stage
// that went through, else the outcome of the probe at the stage that decided it.
var stageOutcomeValues = []string{"ok", string(submit.Deferred), string(submit.Rejected), string(submit.Failed)}

// Label values of mailflow_smtp_stage_outcomes_total{stage}, and "other".
var stageValues = []submit.Stage{submit.StageConnect, submit.StageTLS, submit.StageBanner, submit.StageEHLO,
	submit.StageSTARTTLS, submit.StageAuth, submit.StageMail, submit.StageRcpt, submit.StageData, submit.StageQuit}

// Label values of mailflow_auth_results_total{result}: RFC 8601 section 2.7's
// results, and "other" for anything else. A probe without a trusted result
// counts as none.
var authResultValues = []string{"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy", "other"}

// rttBuckets suit mail: a loopback or LAN round trip takes under a second, a
// provider tens of seconds, a greylisting relay minutes.
var rttBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}

// metrics are the series of /metrics, on a registry of their own.
type metrics struct {
	cfg *config.Config
	now func() time.Time
	log *slog.Logger
	reg *prometheus.Registry

	rtt        *prometheus.HistogramVec
	probes     *prometheus.CounterVec
	stages     *prometheus.CounterVec
	auth       *prometheus.CounterVec
	lastProbe  *prometheus.GaugeVec
	lastRound  *prometheus.GaugeVec
	certExpiry *prometheus.GaugeVec

	// triples are the configured (check, path, seed) combinations: the only
	// ones that become series.
	triples map[[3]string]bool

	mu sync.Mutex
	// counted is, per check, the round last observed and the probes of it
	// already counted: a round observed again counts only what is new.
	counted map[string]*countedRound
	// newest is the instant behind each series of each gauge, so that an
	// older fact (from the store, at start) never replaces a newer one.
	newest map[*prometheus.GaugeVec]map[string]time.Time
}

type countedRound struct {
	id     int64
	probes map[int64]bool
}

func newMetrics(cfg *config.Config, now func() time.Time, log *slog.Logger, alerts AlertsFunc) *metrics {
	m := &metrics{cfg: cfg, now: now, log: log, reg: prometheus.NewRegistry(),
		triples: map[[3]string]bool{}, counted: map[string]*countedRound{}, newest: map[*prometheus.GaugeVec]map[string]time.Time{}}
	m.rtt = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mailflow_probe_round_trip_seconds",
		Help:    "Round trip of found probes: from the start of submission to the moment mailflow saw the message (or its INTERNALDATE, for a message that arrived unwatched).",
		Buckets: rttBuckets,
	}, []string{"check", "path", "seed", "provider"})
	m.probes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailflow_probes_total",
		Help: "Probes that reached a final state, by placement: inbox, spam, tab, other, missing, rejected, deferred, error.",
	}, []string{"check", "path", "seed", "provider", "placement"})
	m.stages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailflow_smtp_stage_outcomes_total",
		Help: "SMTP stages of final probes: ok for a stage that went through; deferred, rejected or error at the stage that decided a failed submission.",
	}, []string{"check", "path", "stage", "outcome"})
	m.auth = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailflow_auth_results_total",
		Help: "Trusted SPF, DKIM and DMARC results of found probes; none when no trusted Authentication-Results carried the method.",
	}, []string{"check", "path", "seed", "method", "result"})
	m.lastProbe = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mailflow_last_probe_timestamp_seconds",
		Help: "When the last probe of a check over a path to a seed reached its final state, in Unix seconds.",
	}, []string{"check", "path", "seed"})
	m.lastRound = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mailflow_last_round_timestamp_seconds",
		Help: "When the last round of a check finished, in Unix seconds.",
	}, []string{"check"})
	m.certExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mailflow_tls_certificate_expiry_timestamp_seconds",
		Help: "NotAfter of the certificate a path's SMTP server presented to the latest probe that negotiated TLS, in Unix seconds.",
	}, []string{"path", "server_name"})
	m.reg.MustRegister(m.rtt, m.probes, m.stages, m.auth, m.lastProbe, m.lastRound, m.certExpiry,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if alerts != nil {
		m.reg.MustRegister(newAlertsCollector(cfg, alerts))
	}
	m.initSeries()
	return m
}

// initSeries creates the series of every configured (check, path, seed) at
// zero, so that increase() and absent() work from the first scrape.
func (m *metrics) initSeries() {
	for _, c := range m.cfg.Checks {
		for _, path := range c.Paths {
			for _, seed := range c.Seeds {
				m.triples[[3]string{c.Name, path, seed}] = true
				provider := m.provider(seed)
				m.rtt.WithLabelValues(c.Name, path, seed, provider)
				for _, pl := range placementValues {
					m.probes.WithLabelValues(c.Name, path, seed, provider, pl)
				}
			}
		}
	}
}

// provider is the provider label of a configured seed.
func (m *metrics) provider(seed string) string {
	if s := m.cfg.Seeds[seed]; s != nil && s.Provider != nil {
		return s.Provider.ID
	}
	return "unknown"
}

// configured reports whether the config's check still covers the probe's
// path and seed.
func (m *metrics) configured(p *store.Probe) bool {
	return m.triples[[3]string{p.Check, p.Path, p.Seed}]
}

// final reports whether a probe's state will not change again.
func final(p *store.Probe) bool {
	return p.State != store.StatePending && p.State != store.StateSent
}

// observeRound counts the final probes of a finished round. Probes still sent
// (mailflow stopped while waiting for them) are left out; so is a probe
// already counted when the same round is observed again.
func (m *metrics) observeRound(round runner.Round) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.Checks[round.Check] == nil {
		return
	}
	seen := m.counted[round.Check]
	if seen == nil || seen.id != round.ID {
		seen = &countedRound{id: round.ID, probes: map[int64]bool{}}
		m.counted[round.Check] = seen
	}
	for i := range round.Probes {
		p := &round.Probes[i]
		if !final(p) || seen.probes[p.ID] || !m.configured(p) {
			continue
		}
		seen.probes[p.ID] = true
		m.count(p)
		m.setFacts(p)
	}
	m.setNewer(m.lastRound, m.now(), round.Check)
}

// count adds a final probe to the counters and the histogram.
func (m *metrics) count(p *store.Probe) {
	provider := m.provider(p.Seed)
	m.probes.WithLabelValues(p.Check, p.Path, p.Seed, provider, placementLabel(p)).Inc()
	for _, st := range p.Stages {
		m.stages.WithLabelValues(p.Check, p.Path, stageLabel(st.Stage), stageOutcome(p, st)).Inc()
	}
	if p.State != store.StateFound {
		return
	}
	m.rtt.WithLabelValues(p.Check, p.Path, p.Seed, provider).Observe(p.Sighting.Latency.Seconds())
	for _, a := range []struct{ method, result string }{{"spf", p.Auth.SPF}, {"dkim", p.Auth.DKIM}, {"dmarc", p.Auth.DMARC}} {
		m.auth.WithLabelValues(p.Check, p.Path, p.Seed, a.method, authResultLabel(a.result)).Inc()
	}
}

// setFacts sets the gauges a final probe informs: its last-probe time and
// its path's certificate expiry.
func (m *metrics) setFacts(p *store.Probe) {
	at := p.FinishedAt
	if at.IsZero() {
		at = p.CreatedAt
	}
	m.setNewer(m.lastProbe, at, p.Check, p.Path, p.Seed)
	if s := p.Submission; s.TLSVersion != "" && !s.CertExpiry.IsZero() {
		m.setNewerTo(m.certExpiry, at, float64(s.CertExpiry.Unix()), p.Path, serverName(m.cfg.Paths[p.Path]))
	}
}

// setNewer sets a timestamp gauge to at, unless it holds a later instant.
func (m *metrics) setNewer(g *prometheus.GaugeVec, at time.Time, labels ...string) {
	m.setNewerTo(g, at, unixSeconds(at), labels...)
}

// setNewerTo sets a gauge to v when at is not older than the fact it shows.
func (m *metrics) setNewerTo(g *prometheus.GaugeVec, at time.Time, v float64, labels ...string) {
	if m.newest[g] == nil {
		m.newest[g] = map[string]time.Time{}
	}
	key := strings.Join(labels, "\x00")
	if at.Before(m.newest[g][key]) {
		return
	}
	m.newest[g][key] = at
	g.WithLabelValues(labels...).Set(v)
}

// load sets the gauges from the last finished round of each check in the
// store, so that a restart does not blank them. Counters and the histogram
// start from zero, as Prometheus expects of a restarted process.
func (m *metrics) load(ctx context.Context, db *store.DB) error {
	l, err := db.Latest(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range l.Rounds {
		if m.cfg.Checks[r.Check] != nil && !r.FinishedAt.IsZero() {
			m.setNewer(m.lastRound, r.FinishedAt, r.Check)
		}
	}
	for i := range l.Probes {
		if p := &l.Probes[i]; m.configured(p) {
			m.setFacts(p)
		}
	}
	return nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      promLog{m.log},
		ErrorHandling: promhttp.ContinueOnError, // one failing collector does not hide the others
	})
}

// promLog passes promhttp's errors to the logger.
type promLog struct{ log *slog.Logger }

func (l promLog) Println(v ...any) {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		if err, ok := x.(error); ok {
			b.WriteString(err.Error())
		} else if s, ok := x.(string); ok {
			b.WriteString(s)
		}
	}
	l.log.Warn("metrics collection incomplete", "err", b.String())
}

// serverName is the name the path's TLS certificate is checked against: its
// tls_server_name, else its host.
func serverName(p *config.Path) string {
	if p.TLSServerName != "" {
		return p.TLSServerName
	}
	return p.Host
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// placementLabel bounds a placement to placementValues: "tab:promotions" is
// tab, "other:Receipts" other.
func placementLabel(p *store.Probe) string {
	switch pl := string(verdict.Placement(p.Placement).Class()); pl {
	case "inbox", "spam", "tab", "other", "missing", "rejected", "deferred", "error":
		return pl
	}
	switch p.State { // a final probe without a placement: what its state says
	case store.StateMissing, store.StateRejected, store.StateDeferred:
		return p.State
	}
	return "error"
}

// stageLabel bounds a stage name to stageValues and "other".
func stageLabel(s string) string {
	for _, v := range stageValues {
		if s == string(v) {
			return s
		}
	}
	return "other"
}

// stageOutcome is ok for a stage that went through, else the outcome of the
// probe's submission at the stage that decided it (or error for a failed
// stage that did not decide it, such as QUIT after the message was accepted).
func stageOutcome(p *store.Probe, st store.Stage) string {
	s := p.Submission
	failed := st.Error != "" || st.Code >= 400
	if st.Stage == s.Stage && s.Outcome != string(submit.Accepted) && failed {
		for _, v := range stageOutcomeValues[1:] {
			if s.Outcome == v {
				return v
			}
		}
		return string(submit.Failed)
	}
	if failed {
		return string(submit.Failed)
	}
	return "ok"
}

// authResultLabel bounds a result to authResultValues.
func authResultLabel(r string) string {
	r = strings.ToLower(r)
	switch r {
	case "":
		return "none"
	case "hardfail": // RFC 5451's synonym of fail, still written by some receivers
		return "fail"
	}
	for _, v := range authResultValues {
		if r == v {
			return r
		}
	}
	return "other"
}
