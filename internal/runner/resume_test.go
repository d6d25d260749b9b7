package runner

import (
	"context"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/lab"
	"github.com/mailflow/mailflow/internal/message"
	"github.com/mailflow/mailflow/internal/store"
)

// crashedProbe writes a probe as a killed run would have left it.
func crashedProbe(t *testing.T, db *store.DB, seed *config.Seed, state string, age time.Duration) store.Probe {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	round, err := db.StartRound(ctx, "demo", now.Add(-age))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := message.NewToken()
	p := store.Probe{RoundID: round, Token: tok, Check: "demo", Path: "relay", Seed: seed.Name, SeedAddress: seed.Address,
		CreatedAt: now.Add(-age), DeadlineAt: now.Add(-age + time.Minute)}
	if err := db.InsertProbe(ctx, &p); err != nil {
		t.Fatal(err)
	}
	if state == store.StateSent {
		sub := store.Submission{StartedAt: now.Add(-age), Outcome: "accepted", Stage: "data", Code: 250}
		if err := db.RecordSubmission(ctx, p.ID, store.StateSent, "", sub, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// deliverProbe puts a signed probe with token into a lab seed, as the send of
// the killed run did.
func deliverProbe(t *testing.T, l *lab.Lab, seed, token string) {
	t.Helper()
	s, _ := l.Seed(seed)
	msg, err := message.Build(message.Probe{Token: token, From: "monitor@" + l.SenderDomain, To: s.Address})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := message.ParseDKIMKey(l.DKIMKeyPEM)
	msg, err = message.Sign(msg, message.DKIMKey{Domain: l.SenderDomain, Selector: l.DKIMSelector, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Inject(seed, msg); err != nil {
		t.Fatal(err)
	}
}

func TestResumeFinishesEveryUnfinishedProbe(t *testing.T) {
	l, cfg := newLab(t, "alice")
	db, err := store.Open(cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alice := cfg.Seeds["alice"]
	delivered := crashedProbe(t, db, alice, store.StateSent, 2*time.Second)     // accepted, landed while mailflow was down
	lostAfterSend := crashedProbe(t, db, alice, store.StateSent, 2*time.Minute) // accepted, never arrived, deadline passed
	unknown := crashedProbe(t, db, alice, store.StatePending, 2*time.Minute)    // killed mid-send, never arrived
	pendingDelivered := crashedProbe(t, db, alice, store.StatePending, time.Second)
	gone := crashedProbe(t, db, &config.Seed{Name: "removed", Address: "x@example.net"}, store.StateSent, time.Second)
	deliverProbe(t, l, "alice", delivered.Token)
	deliverProbe(t, l, "alice", pendingDelivered.Token)
	// INTERNALDATE has whole seconds: start watching over two seconds later,
	// so the messages surely arrived while nobody watched, and long enough
	// before being seen for their date to time them (runner.unwatchedGap).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3 * time.Second)))

	r := &Runner{Store: db, Log: testLog(t), ResumeLook: 500 * time.Millisecond}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Resume(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p                store.Probe
		state, placement string
	}{
		{delivered, store.StateFound, "inbox"},
		{pendingDelivered, store.StateFound, "inbox"},
		{lostAfterSend, store.StateMissing, "missing"},
		{unknown, store.StateError, "error"},
		{gone, store.StateError, "error"},
	} {
		got, err := db.ProbeByToken(ctx, tc.p.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tc.state || got.Placement != tc.placement {
			t.Errorf("probe aged %s (%s): %s %s (%s), want %s %s", time.Since(tc.p.CreatedAt).Round(time.Second), tc.p.State,
				got.State, got.Placement, got.Error, tc.state, tc.placement)
		}
	}
	// Sent 2s before it was delivered; found over a second later. Its latency
	// is to the server's arrival time (whole seconds): between 1s and 2s, not
	// the time mailflow was down.
	if got, _ := db.ProbeByToken(ctx, delivered.Token); got.Auth.DKIM != "pass" ||
		got.Sighting.LatencyBasis != store.LatencyInternalDate || got.Sighting.Latency <= time.Second || got.Sighting.Latency > 2500*time.Millisecond {
		t.Errorf("resumed probe: dkim %s latency %s (%s), want pass and 1s-2s to its INTERNALDATE",
			got.Auth.DKIM, got.Sighting.Latency, got.Sighting.LatencyBasis)
	}
	// A second start has nothing left to do and changes nothing.
	if left, err := db.Unfinished(ctx); err != nil || len(left) != 0 {
		t.Errorf("unfinished after Resume = %d, %v, want none", len(left), err)
	}
	if err := r.Resume(ctx, cfg); err != nil {
		t.Errorf("second Resume: %v", err)
	}
	if n, _ := db.ProbeCount(ctx); n != 5 {
		t.Errorf("probes = %d, want 5", n)
	}
}
