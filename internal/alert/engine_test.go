package alert

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/store"
)

// recorder is a notifier that keeps what it was sent, failing first `fail`
// attempts.
type recorder struct {
	mu       sync.Mutex
	events   []Event
	attempts int
	fail     int
}

func (r *recorder) Name() string { return "oncall" }

func (r *recorder) Notify(ctx context.Context, e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.attempts <= r.fail {
		return errors.New("webhook oncall: 503 Service Unavailable")
	}
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, e := range r.events {
		s = append(s, fmt.Sprintf("%s/%s#%d", e.Status, e.Group, e.Repeat))
	}
	return s
}

// world is a store, a config with one check and one rule, a controlled
// clock, and a notifier.
type world struct {
	t     *testing.T
	db    *store.DB
	file  string
	cfg   *config.Config
	check *config.Check
	now   time.Time
	rec   *recorder
	eng   *Engine
	n     int
	notls bool // submissions from now on without TLS
}

func newWorld(t *testing.T, rule *config.Rule) *world {
	t.Helper()
	file := filepath.Join(t.TempDir(), "mailflow.db")
	db, err := store.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rule.Check, rule.Name = "c", "r"
	check := &config.Check{Name: "c", Alerts: []*config.Rule{rule}}
	cfg := &config.Config{Checks: map[string]*config.Check{"c": check}, Notifiers: map[string]*config.Notifier{"oncall": {Name: "oncall"}}}
	w := &world{t: t, db: db, file: file, cfg: cfg, check: check, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), rec: &recorder{}}
	w.engine()
	return w
}

// engine makes a new Engine on the world's store, as a restart would.
func (w *world) engine() {
	w.eng = &Engine{Store: w.db, Config: w.cfg, Notifiers: map[string]Notifier{"oncall": w.rec}, Now: func() time.Time { return w.now }}
}

// round stores a finished round: one probe per placement given, over path
// "p" to seeds s0, s1...; latency applies to found probes.
func (w *world) round(latency time.Duration, placements ...string) {
	w.t.Helper()
	if err := w.db.FinishRound(context.Background(), w.startRound(latency, placements...), w.now); err != nil {
		w.t.Fatal(err)
	}
}

// startRound stores a round still running, its probes already final.
func (w *world) startRound(latency time.Duration, placements ...string) int64 {
	w.t.Helper()
	ctx := context.Background()
	id, err := w.db.StartRound(ctx, "c", w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	for i, pl := range placements {
		w.n++
		p := &store.Probe{RoundID: id, Token: fmt.Sprintf("tok%d", w.n), Check: "c", Path: "p", Seed: fmt.Sprintf("s%d", i),
			CreatedAt: w.now, DeadlineAt: w.now.Add(time.Minute)}
		if err := w.db.InsertProbe(ctx, p); err != nil {
			w.t.Fatal(err)
		}
		sub := store.Submission{Outcome: "accepted", TLSVersion: "TLS1.3"}
		if w.notls {
			sub.TLSVersion = ""
		}
		state := store.StateSent
		if pl == "rejected" {
			sub = store.Submission{Outcome: "rejected", Stage: "rcpt", Code: 550, EnhancedCode: "5.1.1", Text: "no such user"}
			state = store.StateRejected
		}
		if err := w.db.RecordSubmission(ctx, p.ID, state, map[bool]string{true: "rejected"}[state == store.StateRejected], sub, nil, w.now); err != nil {
			w.t.Fatal(err)
		}
		switch pl {
		case "missing":
			err = w.db.Finish(ctx, p.ID, store.StateMissing, "missing", "not found", w.now)
		case "rejected":
		default:
			err = w.db.RecordFound(ctx, p.ID, pl, store.Sighting{FoundAt: w.now, Latency: latency},
				store.Auth{SPF: "pass", DKIM: "pass", DMARC: "pass"}, nil)
		}
		if err != nil {
			w.t.Fatal(err)
		}
	}
	return id
}

// tick advances the clock, evaluates and delivers.
func (w *world) tick(d time.Duration) {
	w.t.Helper()
	w.now = w.now.Add(d)
	if err := w.eng.Evaluate(context.Background(), w.check); err != nil {
		w.t.Fatal(err)
	}
	if err := w.eng.Dispatch(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) status() string {
	w.t.Helper()
	st, err := w.eng.States(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	if len(st) == 0 {
		return "none"
	}
	return st[0].Status
}

func (w *world) want(status string, sent ...string) {
	w.t.Helper()
	if got := w.status(); got != status {
		w.t.Errorf("at %s: status %s, want %s", w.now.Format("15:04"), got, status)
	}
	if got := w.rec.statuses(); fmt.Sprint(got) != fmt.Sprint(sent) {
		w.t.Errorf("at %s: sent %v, want %v", w.now.Format("15:04"), got, sent)
	}
}

func placementRule() *config.Rule {
	return &config.Rule{Kind: config.RulePlacement, By: "path", Placements: []string{"spam", "missing"}, MinProbes: 1,
		Severity: "critical", For: 10 * time.Minute, ResolveAfter: 15 * time.Minute, Renotify: 4 * time.Hour}
}

func TestPendingFiringResolved(t *testing.T) {
	w := newWorld(t, placementRule())
	w.round(time.Second, "inbox", "inbox")
	w.tick(time.Second)
	w.want("none")

	w.round(time.Second, "inbox", "spam")
	w.tick(time.Second)
	w.want("pending") // for 10m has not elapsed: nothing sent
	w.tick(5 * time.Minute)
	w.want("pending")
	w.round(time.Second, "missing", "spam")
	w.tick(5 * time.Minute)
	w.want("firing", "firing/path=p#0")

	ev := w.rec.events[0]
	if ev.Alert != "c/r/path=p" || ev.Kind != "placement" || ev.Value != 2 || len(ev.Probes) != 2 ||
		ev.Summary != "2 of 2 probes in spam or missing: s0 via p missing, s1 via p spam" || ev.ID == "" || !ev.StartsAt.Equal(w.now) {
		t.Errorf("firing event = %+v", ev)
	}

	w.round(time.Second, "inbox", "inbox")
	w.tick(time.Minute)
	w.want("firing", "firing/path=p#0") // clear, but not for resolve_after yet
	w.tick(15 * time.Minute)
	w.want("resolved", "firing/path=p#0", "resolved/path=p#0")
	if ev := w.rec.events[1]; ev.EndsAt == nil || !ev.EndsAt.Equal(w.now) || ev.Summary[:10] != "resolved: " {
		t.Errorf("resolved event = %+v", ev)
	}
	w.tick(time.Hour)
	w.want("resolved", "firing/path=p#0", "resolved/path=p#0")
}

// TestRunningRoundNotJudged: a round still running shows its fast results
// first; only finished rounds are judged.
func TestRunningRoundNotJudged(t *testing.T) {
	w := newWorld(t, placementRule())
	w.round(time.Second, "spam")
	w.tick(time.Second)
	w.want("pending")
	w.startRound(time.Second, "inbox") // the next round's first result
	w.tick(time.Minute)
	w.want("pending")
}

// TestConcurrentEvaluate: the round hook and Run's tick evaluating at once
// queue one notification, not two.
func TestConcurrentEvaluate(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	for range 10 {
		w := newWorld(t, rule)
		w.round(time.Second, "spam")
		w.now = w.now.Add(time.Second)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.eng.Evaluate(context.Background(), w.check); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		w.tick(0)
		w.want("firing", "firing/path=p#0")
	}
}

// TestRemovedRuleForgotten: the alert of a rule taken out of the config is
// deleted, so the rule added again starts afresh.
func TestRemovedRuleForgotten(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	w := newWorld(t, rule)
	w.round(time.Second, "spam")
	w.tick(time.Second)
	w.want("firing", "firing/path=p#0")
	w.check.Alerts = nil
	if err := w.eng.EvaluateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rows, _ := w.db.AlertRows(context.Background()); len(rows) != 0 {
		t.Errorf("alerts of a removed rule kept: %+v", rows)
	}
	w.check.Alerts = []*config.Rule{rule}
	w.tick(time.Hour)
	if evs := w.rec.events; len(evs) != 2 || evs[1].Repeat != 0 || !evs[1].StartsAt.Equal(w.now) {
		t.Errorf("events %+v, want a fresh firing once the rule is back", evs)
	}
}

// TestResolveNeverOvertakesFiring: after a notifier outage, an alert's
// notifications arrive in the order they were made.
func TestResolveNeverOvertakesFiring(t *testing.T) {
	rule := placementRule()
	rule.For, rule.ResolveAfter = 0, 0
	w := newWorld(t, rule)
	w.rec.fail = 4 // down for a while: the firing one backs off
	w.round(time.Second, "spam")
	w.tick(time.Second)
	for range 3 {
		w.tick(RetryMax) // the firing notification keeps failing
	}
	w.round(time.Second, "inbox")
	w.tick(time.Second) // resolved, while firing waits for its retry
	w.tick(RetryMax)
	w.tick(RetryMax)
	if got := w.rec.statuses(); fmt.Sprint(got) != "[firing/path=p#0 resolved/path=p#0]" {
		t.Errorf("delivered %v, want firing then resolved", got)
	}
}

// TestTLSLostStaysFiring: TLS missing on a path keeps its alert firing after
// the submissions that had TLS left the rounds judged.
func TestTLSLostStaysFiring(t *testing.T) {
	w := newWorld(t, &config.Rule{Kind: config.RuleTLS, By: "path", ExpiresWithin: 24 * time.Hour, ResolveAfter: 0, Renotify: 0, Severity: "critical"})
	w.round(time.Second, "inbox")
	w.notls = true
	for range 6 {
		w.round(time.Second, "inbox")
		w.tick(5 * time.Minute)
	}
	w.want("firing", "firing/path=p#0")
}

func TestPendingClearsSilently(t *testing.T) {
	w := newWorld(t, placementRule())
	w.round(time.Second, "spam")
	w.tick(time.Second)
	w.want("pending")
	w.round(time.Second, "inbox")
	w.tick(time.Minute)
	w.want("none")
}

// TestRestart: a new engine over the same database neither repeats nor
// loses a notification.
func TestRestart(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	w := newWorld(t, rule)
	w.round(time.Second, "spam")
	// Evaluate queues the notification; the process dies before delivering it.
	w.now = w.now.Add(time.Second)
	if err := w.eng.Evaluate(context.Background(), w.check); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(w.file) // a second process on the same file
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w.db = db
	w.engine()
	w.tick(time.Second) // same condition: no second firing
	w.want("firing", "firing/path=p#0")
	w.engine()
	w.tick(time.Minute)
	w.want("firing", "firing/path=p#0")
}

// TestFlappingNoStorm: a probe that flaps between spam and inbox every round
// for two hours sends one notification, not one per round.
func TestFlappingNoStorm(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	w := newWorld(t, rule)
	for i := range 24 {
		w.round(time.Second, map[bool]string{true: "spam", false: "inbox"}[i%2 == 0])
		w.tick(5 * time.Minute)
	}
	w.want("firing", "firing/path=p#0")
	for range 4 {
		w.round(time.Second, "inbox")
		w.tick(5 * time.Minute)
	}
	w.want("resolved", "firing/path=p#0", "resolved/path=p#0")
}

func TestRenotify(t *testing.T) {
	rule := placementRule()
	rule.For, rule.Renotify = 0, time.Hour
	w := newWorld(t, rule)
	w.round(time.Second, "spam")
	w.tick(time.Second)
	for range 5 {
		w.tick(15 * time.Minute)
	}
	w.want("firing", "firing/path=p#0", "firing/path=p#1")
	if w.rec.events[0].ID == w.rec.events[1].ID {
		t.Errorf("a re-notification has the same id %s", w.rec.events[1].ID)
	}
}

// TestRetry: a failing notifier is retried with backoff, and the event is
// delivered once it recovers.
func TestRetry(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	w := newWorld(t, rule)
	w.rec.fail = 2
	w.round(time.Second, "spam")
	w.tick(time.Second) // attempt 1 fails: retry in 30s
	w.tick(10 * time.Second)
	if w.rec.attempts != 1 {
		t.Errorf("attempts after 10s = %d, want 1 (backoff 30s)", w.rec.attempts)
	}
	w.tick(25 * time.Second) // attempt 2 fails: retry in 60s
	w.tick(30 * time.Second)
	if w.rec.attempts != 2 {
		t.Errorf("attempts = %d, want 2 (backoff 60s)", w.rec.attempts)
	}
	w.tick(31 * time.Second)
	w.want("firing", "firing/path=p#0")
	if w.rec.attempts != 3 {
		t.Errorf("attempts = %d, want 3", w.rec.attempts)
	}
	w.tick(time.Hour)
	if w.rec.attempts != 3 {
		t.Errorf("attempts = %d after delivery, want 3", w.rec.attempts)
	}
}

// TestGiveUp: a notification that cannot be delivered for GiveUp is dropped.
func TestGiveUp(t *testing.T) {
	rule := placementRule()
	rule.For, rule.Renotify = 0, 0
	w := newWorld(t, rule)
	w.rec.fail = 1 << 30
	w.round(time.Second, "spam")
	w.tick(time.Second)
	for w.now.Before(time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)) {
		w.tick(RetryMax)
	}
	before := w.rec.attempts
	w.tick(time.Hour)
	if w.rec.attempts != before || before < 10 {
		t.Errorf("attempts %d then %d, want retries that stop after %s", before, w.rec.attempts, GiveUp)
	}
	next, err := w.db.NextNotification(context.Background())
	if err != nil || !next.IsZero() {
		t.Errorf("outbox still has a notification due %v (%v)", next, err)
	}
}

// TestNotifierGone: a notification for a notifier no longer configured is
// dropped, not retried forever.
func TestNotifierGone(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	w := newWorld(t, rule)
	w.round(time.Second, "spam")
	w.now = w.now.Add(time.Second)
	if err := w.eng.Evaluate(context.Background(), w.check); err != nil {
		t.Fatal(err)
	}
	w.eng.Notifiers = map[string]Notifier{}
	w.tick(time.Second)
	if next, _ := w.db.NextNotification(context.Background()); !next.IsZero() || w.rec.attempts != 0 {
		t.Errorf("next due %v, attempts %d: want the notification dropped", next, w.rec.attempts)
	}
}

// TestRunDeliversWhenPoked: Run delivers what Evaluate queued without waiting
// for its tick, and returns when its context ends.
func TestRunDeliversWhenPoked(t *testing.T) {
	rule := placementRule()
	rule.For = 0
	w := newWorld(t, rule)
	w.now = time.Now().UTC()
	w.eng.Now = nil // the real clock
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.eng.Run(ctx)
	}()
	w.round(time.Second, "spam")
	if err := w.eng.Evaluate(ctx, w.check); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(w.rec.statuses()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.rec.statuses(); len(got) != 1 || got[0] != "firing/path=p#0" {
		t.Errorf("delivered %v, want one firing", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
