package seedbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/lab"
)

func TestLimiterServesWaitersInOrder(t *testing.T) {
	l := NewLimiter(2)
	ctx := context.Background()
	r1, _ := l.acquire(ctx, "imap.example.net")
	r2, _ := l.acquire(ctx, "IMAP.example.net") // host names are case-insensitive
	if n := l.Open("imap.example.net"); n != 2 {
		t.Fatalf("open = %d, want 2", n)
	}
	if other, err := l.acquire(ctx, "imap.example.org"); err != nil {
		t.Fatalf("another host waits for this one: %v", err)
	} else {
		other()
	}
	select {
	case <-l.Contended("imap.example.net"):
		t.Fatal("contended before anyone waits")
	default:
	}
	order := make(chan int, 2)
	for i := range 2 {
		go func() {
			r, err := l.acquire(ctx, "imap.example.net")
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			time.Sleep(10 * time.Millisecond)
			r()
		}()
		// The second waiter queues behind the first.
		for waiters(l, "imap.example.net") != i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case <-l.Contended("imap.example.net"):
	case <-time.After(5 * time.Second):
		t.Fatal("not contended while two wait")
	}
	r1()
	r1() // a second release is a no-op
	if got := <-order; got != 0 {
		t.Errorf("first slot went to waiter %d, want 0", got)
	}
	r2()
	if got := <-order; got != 1 {
		t.Errorf("second slot went to waiter %d, want 1", got)
	}
	for l.Open("imap.example.net") != 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-l.Contended("imap.example.net"):
		t.Error("still contended after everyone was served")
	default:
	}
}

func TestLimiterWaitEndsWithContext(t *testing.T) {
	l := NewLimiter(1)
	release, _ := l.acquire(context.Background(), "h")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, "h"); err == nil {
		t.Fatal("acquired a slot that was taken")
	}
	select {
	case <-l.Contended("h"):
		t.Error("a waiter that gave up still counts as contention")
	default:
	}
	release()
	if n := l.Open("h"); n != 0 {
		t.Errorf("open = %d after the only holder left, want 0", n)
	}
}

// Twelve seeds on one host, two connections allowed: every probe is found,
// watchers take turns, and the host never sees a third connection.
func TestPoolStaysWithinTheHostBound(t *testing.T) {
	var specs []lab.SeedSpec
	for i := range 12 {
		specs = append(specs, lab.SeedSpec{Name: fmt.Sprintf("s%02d", i), Rule: lab.RuleDeliver})
	}
	l := newLabWith(t, lab.Options{Seeds: specs})
	pool := NewPool(2, discard)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found := make(chan Found, len(specs))
	want := map[string]string{}
	for _, s := range specs {
		acct := account(t, l, s.Name, l.IMAP, SecurityTLS)
		acct.PollInterval = 50 * time.Millisecond
		w := pool.Watcher(acct)
		if w != pool.Watcher(acct) {
			t.Fatal("the same seed got two watchers")
		}
		if err := w.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		tok := token(t)
		want[tok] = s.Name
		w.Expect(found, tok)
		deliver(t, l, s.Name, tok)
	}
	for range specs {
		select {
		case f := <-found:
			if want[f.Token] != f.Seed {
				t.Errorf("found %s in %s, want it in %s", f.Token, f.Seed, want[f.Token])
			}
			f.Stored()
		case <-ctx.Done():
			t.Fatal("not every probe was found")
		}
	}
	if _, peak := l.IMAPConnections(); peak > 2 {
		t.Errorf("peak IMAP connections = %d, want at most 2", peak)
	}
	pool.Close()
	for _, s := range specs {
		if n, _ := l.Count(s.Name, "INBOX"); n != 0 {
			t.Errorf("%s's INBOX holds %d messages after cleanup, want 0", s.Name, n)
		}
	}
	if open, _ := l.IMAPConnections(); open != 0 {
		t.Errorf("%d IMAP connections open after Close", open)
	}
}

// Two rounds expecting probes in one seed at once each get their own.
func TestSharedWatcherRoutesEachTokenToItsRound(t *testing.T) {
	l := newLab(t)
	pool := NewPool(4, discard)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acct := account(t, l, "alice", l.IMAP, SecurityTLS)
	w := pool.Watcher(acct)
	if err := w.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := make(chan Found, 1), make(chan Found, 1)
	ta, tb := token(t), token(t)
	w.Expect(a, ta)
	w.Expect(b, tb)
	deliver(t, l, "alice", tb)
	deliver(t, l, "alice", ta)
	for _, c := range []struct {
		ch  chan Found
		tok string
	}{{a, ta}, {b, tb}} {
		select {
		case f := <-c.ch:
			if f.Token != c.tok {
				t.Errorf("a round got %s, want %s", f.Token, c.tok)
			}
		case <-ctx.Done():
			t.Fatal("probe not found")
		}
	}
}

func waiters(l *Limiter, host string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.host(host).waiters)
}

// One waiter makes one holder yield, not every holder that noticed.
func TestLimiterYieldOnePerWaiter(t *testing.T) {
	l := NewLimiter(2)
	ctx := context.Background()
	r1, _ := l.acquire(ctx, "h")
	l.acquire(ctx, "h")
	if l.Yield("h") {
		t.Fatal("asked to yield while nobody waits")
	}
	got := make(chan func(), 1)
	go func() {
		r, _ := l.acquire(ctx, "h")
		got <- r
	}()
	for waiters(l, "h") != 1 {
		time.Sleep(time.Millisecond)
	}
	if !l.Yield("h") {
		t.Fatal("the first holder to ask was not picked")
	}
	if l.Yield("h") {
		t.Error("a second holder was picked for one waiter")
	}
	r1() // the picked holder hands its slot on
	(<-got)()
	if l.Yield("h") {
		t.Error("still picking holders after the waiter was served")
	}
}

// TestLimiterCap: a provider's cap lowers the bound of its host only, and
// never raises it.
func TestLimiterCap(t *testing.T) {
	l := NewLimiter(4)
	l.Cap("imap.Provider.test", 2)
	l.Cap("imap.provider.test", 3) // a higher cap does not undo a lower one
	l.Cap("other.test", 9)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for i := range 2 {
		if _, err := l.acquire(context.Background(), "imap.provider.test"); err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
	}
	if _, err := l.acquire(ctx, "imap.provider.test"); err == nil {
		t.Error("a third connection under a cap of 2")
	}
	for i := range 4 {
		if _, err := l.acquire(context.Background(), "other.test"); err != nil {
			t.Fatalf("other host, slot %d: %v", i, err)
		}
	}
	if n := l.Open("other.test"); n != 4 {
		t.Errorf("other host open = %d, want 4 (a cap above the bound changes nothing)", n)
	}
}
