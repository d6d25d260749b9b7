// Package schedule runs checks on their cron schedules (robfig/cron/v3 syntax)
// with jitter, and never runs two rounds of one check at once: a tick that
// comes while the previous round still runs is skipped, logged and counted. It
// does not run rounds itself; it calls the function it is given. Time comes
// from a Clock, so tests drive schedules without waiting.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// parser accepts five fields or six with leading seconds, descriptors such as
// @hourly and @every 5m, and a CRON_TZ= or TZ= prefix.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses a cron expression.
func Parse(expr string) (cron.Schedule, error) {
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %v (write five fields like \"*/5 * * * *\", six with seconds first, or @every 5m, @hourly)", expr, err)
	}
	return s, nil
}

// Clock is the time source of a Scheduler.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Job is one scheduled check.
type Job struct {
	Name     string
	Schedule cron.Schedule
	// Jitter delays each round by a random duration in [0, Jitter), so checks
	// that share a schedule do not all hit the same servers at the same second.
	Jitter time.Duration
	// Run runs one round; the context ends when the scheduler stops.
	Run func(ctx context.Context)
}

// Scheduler runs jobs on their schedules until its context ends.
type Scheduler struct {
	Clock Clock
	Log   *slog.Logger

	mu      sync.Mutex
	skipped map[string]int
	running map[string]bool
	wg      sync.WaitGroup
}

// Running reports whether a round of job is in flight.
func (s *Scheduler) Running(job string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[job]
}

func (s *Scheduler) setRunning(job string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[string]bool{}
	}
	s.running[job] = on
}

// Skipped returns how many ticks of a job were skipped because its previous
// round was still running.
func (s *Scheduler) Skipped(job string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped[job]
}

// Start schedules every job and returns at once. Stop the scheduler by ending
// ctx, then call Wait for the rounds in flight.
func (s *Scheduler) Start(ctx context.Context, jobs []Job) {
	for _, j := range jobs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, j)
		}()
	}
}

// Wait returns when every loop and every round has ended.
func (s *Scheduler) Wait() { s.wg.Wait() }

func (s *Scheduler) loop(ctx context.Context, j Job) {
	var running sync.WaitGroup
	defer running.Wait()
	busy := make(chan struct{}, 1) // holds a token while a round runs
	next := j.Schedule.Next(s.Clock.Now())
	for {
		if next.IsZero() {
			s.Log.Warn("schedule has no next time; check stopped", "check", j.Name)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.Clock.After(next.Sub(s.Clock.Now())):
		}
		tick := next
		next = j.Schedule.Next(s.Clock.Now())
		select {
		case busy <- struct{}{}:
		default:
			s.mu.Lock()
			if s.skipped == nil {
				s.skipped = map[string]int{}
			}
			s.skipped[j.Name]++
			n := s.skipped[j.Name]
			s.mu.Unlock()
			s.Log.Warn("tick skipped: the previous round is still running", "check", j.Name, "tick", tick.UTC(), "skipped_total", n)
			continue
		}
		running.Add(1)
		s.setRunning(j.Name, true)
		go func() {
			defer running.Done()
			defer func() {
				<-busy // free for the next tick first, then report it
				s.setRunning(j.Name, false)
			}()
			if j.Jitter > 0 {
				select {
				case <-ctx.Done():
					return
				case <-s.Clock.After(rand.N(j.Jitter)):
				}
			}
			j.Run(ctx)
		}()
	}
}
