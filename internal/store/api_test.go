package store

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"
)

// apiFixture stores three rounds: two of check "a" (the second still running
// with one probe sent) and one of check "b", each probe a minute apart.
func apiFixture(t *testing.T) (*DB, time.Time) {
	t.Helper()
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	n := 0
	round := func(check string, start time.Time, finished bool, ends ...string) int64 {
		t.Helper()
		id, err := db.StartRound(ctx, check, start)
		if err != nil {
			t.Fatal(err)
		}
		for _, end := range ends {
			n++
			at := t0.Add(time.Duration(n) * time.Minute)
			p := Probe{RoundID: id, Token: fmt.Sprintf("tok%02d", n), Check: check, Path: "submission", Seed: fmt.Sprintf("s%d", n),
				SeedAddress: "s@example.net", CreatedAt: at, DeadlineAt: at.Add(time.Minute)}
			if err := db.InsertProbe(ctx, &p); err != nil {
				t.Fatal(err)
			}
			sub := Submission{StartedAt: at, Outcome: "accepted", Stage: "data", Code: 250}
			stages := []Stage{{Stage: "connect", StartedAt: at}, {Stage: "data", StartedAt: at, Code: 250}}
			switch end {
			case "inbox", "spam", "tab:promotions":
				err = db.RecordSubmission(ctx, p.ID, StateSent, "", sub, stages, at)
				if err == nil {
					err = db.RecordFound(ctx, p.ID, end, Sighting{FoundAt: at.Add(time.Second), Latency: time.Second},
						Auth{SPF: "pass"}, []AuthRow{{Method: "spf", Result: "pass", Trusted: true}})
				}
			case StateSent:
				err = db.RecordSubmission(ctx, p.ID, StateSent, "", sub, stages, at)
			case StateMissing:
				err = db.RecordSubmission(ctx, p.ID, StateSent, "", sub, stages, at)
				if err == nil {
					err = db.Finish(ctx, p.ID, StateMissing, "missing", "deadline", at.Add(time.Minute))
				}
			case StateRejected:
				sub.Outcome, sub.Stage, sub.Code = "rejected", "rcpt", 550
				err = db.RecordSubmission(ctx, p.ID, StateRejected, "rejected", sub, stages, at)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if finished {
			if err := db.FinishRound(ctx, id, start.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	round("a", t0, true, "inbox", "spam", "missing")             // probes 1-3
	round("b", t0.Add(5*time.Minute), true, "inbox", "rejected") // 4-5
	round("a", t0.Add(10*time.Minute), false, "tab:promotions", StateSent)
	return db, t0
}

func tokens(probes []Probe) []string {
	var out []string
	for _, p := range probes {
		out = append(out, p.Token)
	}
	return out
}

func TestRecentProbes(t *testing.T) {
	ctx := context.Background()
	db, t0 := apiFixture(t)
	for _, tc := range []struct {
		name  string
		since time.Time
		check string
		limit int
		want  []string
	}{
		{"all, newest first", time.Time{}, "", 100, []string{"tok07", "tok06", "tok05", "tok04", "tok03", "tok02", "tok01"}},
		{"limit", time.Time{}, "", 2, []string{"tok07", "tok06"}},
		{"since", t0.Add(5 * time.Minute), "", 100, []string{"tok07", "tok06", "tok05"}},
		{"check", time.Time{}, "b", 100, []string{"tok05", "tok04"}},
		{"check and since", t0.Add(3 * time.Minute), "a", 100, []string{"tok07", "tok06", "tok03"}},
		{"unknown check", time.Time{}, "nosuch", 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.RecentProbes(ctx, tc.since, tc.check, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if g := tokens(got); fmt.Sprint(g) != fmt.Sprint(tc.want) {
				t.Errorf("RecentProbes = %v, want %v", g, tc.want)
			}
		})
	}
	got, err := db.RecentProbes(ctx, time.Time{}, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	// tok06 is found: its stages and authentication rows come along.
	if p := got[1]; len(p.Stages) != 2 || len(p.AuthRows) != 1 || p.Placement != "tab:promotions" {
		t.Errorf("probe %s: %d stages, %d auth rows, placement %q; want 2, 1, tab:promotions", p.Token, len(p.Stages), len(p.AuthRows), p.Placement)
	}
}

func TestRecentRounds(t *testing.T) {
	ctx := context.Background()
	db, t0 := apiFixture(t)
	got, err := db.RecentRounds(ctx, time.Time{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		check    string
		finished bool
		counts   map[string]int
	}{
		{"a", false, map[string]int{"tab:promotions": 1, "sent": 1}},
		{"b", true, map[string]int{"inbox": 1, "rejected": 1}},
		{"a", true, map[string]int{"inbox": 1, "spam": 1, "missing": 1}},
	}
	if len(got) != len(want) {
		t.Fatalf("RecentRounds = %d rounds, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.Check != w.check || r.FinishedAt.IsZero() == w.finished || !maps.Equal(r.Placements, w.counts) || r.Probes != len(w.counts) {
			t.Errorf("round %d = %s finished %v %v (%d probes), want %s finished %v %v", i, r.Check, !r.FinishedAt.IsZero(),
				r.Placements, r.Probes, w.check, w.finished, w.counts)
		}
	}
	if !got[2].StartedAt.Equal(t0) || !got[2].FinishedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("first round started %s finished %s, want %s and an hour later", got[2].StartedAt, got[2].FinishedAt, t0)
	}
	got, err = db.RecentRounds(ctx, t0.Add(time.Minute), "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Check != "a" || got[0].Probes != 2 {
		t.Errorf("RecentRounds(since t0+1m, a) = %+v, want the running round of a", got)
	}
	if got, err := db.RecentRounds(ctx, time.Time{}, "", 1); err != nil || len(got) != 1 || got[0].Check != "a" {
		t.Errorf("RecentRounds(limit 1) = %+v, %v, want the newest round", got, err)
	}
}

func TestLatest(t *testing.T) {
	ctx := context.Background()
	db, t0 := apiFixture(t)
	l, err := db.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The running round of a is not finished: its first round is the latest.
	if len(l.Rounds) != 2 || l.Rounds[0].Check != "a" || l.Rounds[1].Check != "b" ||
		!l.Rounds[0].FinishedAt.Equal(t0.Add(time.Hour)) || !l.Rounds[1].FinishedAt.Equal(t0.Add(65*time.Minute)) {
		t.Errorf("Latest rounds = %+v, want a finished at t0+1h and b at t0+65m", l.Rounds)
	}
	if got, want := fmt.Sprint(tokens(l.Probes)), "[tok01 tok02 tok03 tok04 tok05]"; got != want {
		t.Errorf("Latest probes = %s, want %s", got, want)
	}
	if p := l.Probes[2]; p.State != StateMissing || !p.FinishedAt.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("probe %s = %s finished %s, want missing at t0+4m", p.Token, p.State, p.FinishedAt)
	}
}

func TestLatestEmpty(t *testing.T) {
	l, err := openTest(t).Latest(context.Background())
	if err != nil || len(l.Rounds) != 0 || len(l.Probes) != 0 {
		t.Errorf("Latest of an empty store = %+v, %v, want nothing", l, err)
	}
}

func TestPing(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
	db.Close()
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping of a closed store = nil, want an error")
	}
}
