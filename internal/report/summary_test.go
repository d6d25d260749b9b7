package report

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "mailflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A fixture computed by hand, stored through the store's own calls: path "a"
// has 10 probes, 2 never accepted, 8 accepted: 5 in the inbox, 1 in spam, 1
// in a tab, 1 missing. The 7 found ones took 10, 20, ... 70 ms; 6 pass SPF, 5
// DKIM, 4 DMARC; 6 of the 8 accepted used TLS. Path "b" has one probe not yet
// sent. Path "c" has two found in the same millisecond, 10.2 and 10.7 ms: its
// p50 is 10.7, the longest of their bucket, not the exact 10.2.
func TestComputeByHand(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	round, err := db.StartRound(ctx, "default", now)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	insert := func(path string) int64 {
		t.Helper()
		n++
		p := store.Probe{RoundID: round, Token: fmt.Sprintf("%032x", n), Check: "default", Path: path, Seed: "alice",
			SeedAddress: "alice@example.net", CreatedAt: now, DeadlineAt: now.Add(time.Minute)}
		must(db.InsertProbe(ctx, &p))
		return p.ID
	}
	found := func(path, placement string, rtt time.Duration, auth store.Auth, tls string) {
		t.Helper()
		id := insert(path)
		must(db.RecordSubmission(ctx, id, store.StateSent, "", store.Submission{TLSVersion: tls}, nil, now))
		must(db.RecordFound(ctx, id, placement, store.Sighting{Latency: rtt}, auth, nil))
	}

	must(db.RecordSubmission(ctx, insert("a"), store.StateRejected, "rejected", store.Submission{Code: 550}, nil, now))
	must(db.Finish(ctx, insert("a"), store.StateError, "error", "connection refused", now))
	for i, pl := range []string{"inbox", "inbox", "inbox", "inbox", "inbox", "spam", "tab:promotions"} {
		pass := func(n int) string {
			if i < n {
				return "pass"
			}
			return "fail"
		}
		tls := ""
		if i < 6 {
			tls = "TLS 1.3"
		}
		found("a", pl, time.Duration(10*(i+1))*time.Millisecond, store.Auth{SPF: pass(6), DKIM: pass(5), DMARC: pass(4)}, tls)
	}
	missing := insert("a")
	must(db.RecordSubmission(ctx, missing, store.StateSent, "", store.Submission{}, nil, now))
	must(db.Finish(ctx, missing, store.StateMissing, "missing", "not found by the deadline", now))
	insert("b")
	found("c", "inbox", 10200*time.Microsecond, store.Auth{}, "")
	found("c", "inbox", 10700*time.Microsecond, store.Auth{}, "")

	g, err := Compute(ctx, db, time.Time{}, "", "path")
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 3 || g[0].Key != "a" || g[1].Key != "b" || g[2].Key != "c" {
		t.Fatalf("groups %+v, want a, b and c", g)
	}
	a := g[0]
	want := Group{Key: "a", Sent: 10, Accepted: 8, Found: 7, Inbox: 62.5, Spam: 12.5, Tab: 12.5, Missing: 12.5,
		P50: 40, P90: 70, P99: 70, Max: 70, SPF: 600.0 / 7, DKIM: 500.0 / 7, DMARC: 400.0 / 7, TLS: 75}
	if a != want {
		t.Errorf("group a\n got %+v\nwant %+v", a, want)
	}
	if b := g[1]; b.Sent != 1 || b.Accepted != 0 || b.P99 != 0 {
		t.Errorf("group b %+v, want one probe, none accepted", b)
	}
	if c := g[2]; c.Found != 2 || c.P50 != 10.7 || c.P90 != 10.7 || c.Max != 10.7 {
		t.Errorf("group c %+v, want p50, p90 and max 10.7 ms", c)
	}

	var out bytes.Buffer
	if err := WriteGroups(&out, g, "path", "table"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "62.5%") || !strings.Contains(out.String(), "40ms") {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	WriteGroups(&out, g, "path", "json")
	var back []Group
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back[0] != want {
		t.Errorf("json round trip: %v %+v", err, back)
	}
	out.Reset()
	WriteGroups(&out, g, "path", "csv")
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[1], "a,10,8,7,62.5,12.5,12.5,0.0,12.5,40.0,70.0") {
		t.Errorf("csv:\n%s", out.String())
	}
	if err := WriteGroups(&out, g, "path", "xml"); err == nil {
		t.Error("format xml accepted")
	}
}

// randomProbe is a probe as TestComputeMatchesGo stores it.
type randomProbe struct {
	check, path, seed, provider string
	created                     time.Time
	state, placement            string
	latency                     *float64 // nil when not stored
	spf, dkim, dmarc, tls       string
}

func (p randomProbe) key(by string) string {
	return map[string]string{"path": p.path, "seed": p.seed, "provider": p.provider, "check": p.check}[by]
}

// randomProbes makes n probes of every state and placement, some with odd
// values (an unknown state, "Tab:" in capitals, a negative round trip, one
// missing), created over the 10 days before now. The seed "dead" has no probe
// found.
func randomProbes(n int, now time.Time) []randomProbe {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	out := make([]randomProbe, n)
	for i := range out {
		p := randomProbe{check: pick("default", "hourly"), path: pick("submission", "relay", "smtps"),
			seed: pick("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "dead"), provider: pick("gmail", "fastmail", ""),
			created: now.Add(-time.Duration(r.Int64N(int64(10 * 24 * time.Hour)))),
			state: pick("found", "found", "found", "found", "found", "found", "missing", "sent", "pending", "rejected",
				"deferred", "error", "bounced"),
			placement: pick("inbox", "inbox", "inbox", "spam", "tab:promotions", "other:Archive", "Tab:Updates", "missing",
				"rejected", "error", ""),
			spf: pick("pass", "pass", "fail", "none", ""), dkim: pick("pass", "pass", "fail", ""),
			dmarc: pick("pass", "fail", ""), tls: pick("TLS 1.3", "TLS 1.3", "TLS 1.2", "")}
		if p.seed == "dead" && p.state == "found" {
			p.state = "missing"
		}
		var ms float64
		switch r.IntN(10) {
		case 0: // no round trip
		case 1:
			ms = -r.Float64() * 5 // INTERNALDATE ahead of the submission's start
			p.latency = &ms
		case 2, 3:
			ms = float64(r.IntN(300)) // whole milliseconds, often the same
			p.latency = &ms
		default:
			ms = r.Float64() * 90000
			p.latency = &ms
		}
		out[i] = p
	}
	return out
}

// storeRandom writes probes straight into the store's SQLite file, in one
// transaction: through InsertProbe and friends, a few thousand would take
// seconds under the race detector.
func storeRandom(t *testing.T, path string, probes []randomProbe) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO rounds (id, check_name, started_at) VALUES (1, 'default', '')`); err != nil {
		t.Fatal(err)
	}
	for i, p := range probes {
		var latency any
		if p.latency != nil {
			latency = *p.latency
		}
		// created_at as the store writes it: UTC, nanoseconds, sortable as text.
		created := p.created.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
		if _, err := tx.Exec(`INSERT INTO probes (round_id, token, check_name, path, seed, seed_address, provider,
			state, placement, created_at, deadline_at, latency_ms, spf, dkim, dmarc, tls_version)
			VALUES (1, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			fmt.Sprintf("%032x", i), p.check, p.path, p.seed, p.provider, p.state, p.placement, created, created,
			latency, p.spf, p.dkim, p.dmarc, p.tls); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// computeInGo is what Compute must answer, the plain way: every probe in
// memory, every round trip sorted.
func computeInGo(probes []randomProbe, since time.Time, check, by string) []Group {
	type tally struct {
		sent, accepted, inbox, spam, tab, other, missing, tls, spf, dkim, dmarc int
		rtt                                                                     []float64
	}
	groups := map[string]*tally{}
	for _, p := range probes {
		if p.created.Before(since) || check != "" && p.check != check {
			continue
		}
		g := groups[p.key(by)]
		if g == nil {
			g = &tally{}
			groups[p.key(by)] = g
		}
		g.sent++
		if p.state != "found" && p.state != "missing" && p.state != "sent" {
			continue
		}
		g.accepted++
		if p.tls != "" {
			g.tls++
		}
		switch {
		case p.placement == "inbox":
			g.inbox++
		case p.placement == "spam":
			g.spam++
		case strings.HasPrefix(p.placement, "tab:"):
			g.tab++
		case strings.HasPrefix(p.placement, "other:"):
			g.other++
		case p.state == "missing":
			g.missing++
		}
		if p.state == "found" && p.latency != nil {
			g.rtt = append(g.rtt, *p.latency)
			for _, c := range []struct {
				result string
				n      *int
			}{{p.spf, &g.spf}, {p.dkim, &g.dkim}, {p.dmarc, &g.dmarc}} {
				if c.result == "pass" {
					*c.n++
				}
			}
		}
	}
	var out []Group
	for key, g := range groups {
		slices.Sort(g.rtt)
		nearest := func(p float64) float64 {
			if len(g.rtt) == 0 {
				return 0
			}
			i := int(math.Ceil(float64(len(g.rtt))*p/100)) - 1
			return g.rtt[max(i, 0)]
		}
		found := len(g.rtt)
		out = append(out, Group{Key: key, Sent: g.sent, Accepted: g.accepted, Found: found,
			Inbox: pct(g.inbox, g.accepted), Spam: pct(g.spam, g.accepted), Tab: pct(g.tab, g.accepted),
			Other: pct(g.other, g.accepted), Missing: pct(g.missing, g.accepted), TLS: pct(g.tls, g.accepted),
			SPF: pct(g.spf, found), DKIM: pct(g.dkim, found), DMARC: pct(g.dmarc, found),
			P50: nearest(50), P90: nearest(90), P99: nearest(99), Max: nearest(100)})
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// TestComputeMatchesGo checks the counting in SQLite against computeInGo over
// a few thousand random probes in a real SQLite file: percentiles within their
// documented resolution (never below the exact one, less than 1 ms above),
// everything else exact.
func TestComputeMatchesGo(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	probes := randomProbes(3000, now)
	since := now.Add(-5 * 24 * time.Hour)
	probes[0].created = since // at since counts
	storeRandom(t, db.Path(), probes)

	for _, by := range []string{"path", "seed", "provider", "check"} {
		for _, check := range []string{"", "hourly"} {
			for _, since := range []time.Time{{}, since} {
				t.Run(fmt.Sprintf("by %s check %q since %s", by, check, since.Format(time.DateOnly)), func(t *testing.T) {
					got, err := Compute(ctx, db, since, check, by)
					if err != nil {
						t.Fatal(err)
					}
					want := computeInGo(probes, since, check, by)
					if len(got) != len(want) {
						t.Fatalf("%d groups, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
					}
					for i := range want {
						g, w := got[i], want[i]
						for _, p := range []struct {
							name      string
							got, want float64
						}{{"p50", g.P50, w.P50}, {"p90", g.P90, w.P90}, {"p99", g.P99, w.P99}} {
							if d := p.got - p.want; d < 0 || d >= 1 {
								t.Errorf("%s %s = %v, want %v to %v + 1 ms", g.Key, p.name, p.got, p.want, p.want)
							}
						}
						g.P50, g.P90, g.P99 = w.P50, w.P90, w.P99
						if g != w {
							t.Errorf("group %s\n got %+v\nwant %+v", w.Key, g, w)
						}
					}
				})
			}
		}
	}

	got, err := Compute(ctx, db, time.Time{}, "", "seed")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(got, func(g Group) bool { return g.Key == "dead" })
	if i < 0 || got[i].Found != 0 || got[i].Accepted == 0 || got[i].P50 != 0 || got[i].Max != 0 {
		t.Errorf("seed dead %+v, want accepted probes, none found, no round trips", got)
	}
}

func TestNearestRank(t *testing.T) {
	for _, tc := range []struct {
		n    int
		p    float64
		want int
	}{{3, 33.4, 2}, {2, 50.25, 2}, {100, 95, 95}, {150, 99, 149}, {1, 1, 1}, {10, 0, 1}} {
		if got := NearestRank(tc.n, tc.p); got != tc.want {
			t.Errorf("NearestRank(%d, %v) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}
