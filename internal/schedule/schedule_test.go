package schedule

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{now: t}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.cond.Broadcast()
	return ch
}

// waitWaiters blocks until n timers are pending, so an Advance cannot race
// the goroutine that is about to wait.
func (c *fakeClock) waitWaiters(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waiters) < n {
		c.cond.Wait()
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{"*/5 * * * *", true},
		{"30 */5 * * * *", true},
		{"@every 5m", true},
		{"@hourly", true},
		{"CRON_TZ=Europe/Paris 0 9 * * 1-5", true},
		{"* * *", false},
		{"@every soon", false},
		{"61 * * * *", false},
	} {
		_, err := Parse(tc.expr)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) error = %v, want ok %v", tc.expr, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.expr) {
			t.Errorf("Parse(%q) error %q does not name the expression", tc.expr, err)
		}
	}
}

func TestOverlappingTickIsSkipped(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 23, 8, 0, 30, 0, time.UTC))
	s := &Scheduler{Clock: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	sched, err := Parse("@every 1m")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx, []Job{{Name: "c", Schedule: sched, Run: func(context.Context) {
		started <- struct{}{}
		<-release
	}}})

	clock.waitWaiters(1)
	clock.Advance(time.Minute) // first tick: a round starts
	<-started
	clock.waitWaiters(1)
	clock.Advance(time.Minute) // second tick: the round still runs
	clock.waitWaiters(1)
	if n := s.Skipped("c"); n != 1 {
		t.Errorf("Skipped = %d, want 1", n)
	}
	select {
	case <-started:
		t.Fatal("a second round started while the first ran")
	default:
	}
	release <- struct{}{} // the first round ends
	waitUntil(t, func() bool { return !s.Running("c") })
	clock.Advance(time.Minute)
	<-started // the third tick runs again
	close(release)
	cancel()
	s.Wait()
	if n := s.Skipped("c"); n != 1 {
		t.Errorf("Skipped after the third tick = %d, want 1", n)
	}
}

// waitUntil waits for a condition of another goroutine, with a deadline.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition not met within 5s")
		case <-tick.C:
		}
	}
}
