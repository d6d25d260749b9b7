package alert

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/mailflow/mailflow/internal/store"
)

// Delivery: notifications wait in the store's outbox until a notifier took
// them. A failed attempt is tried again after a backoff that doubles from
// RetryFirst up to RetryMax; after GiveUp the notification is dropped with an
// error in the log. Delivery is at least once: a crash between a notifier's
// success and its recording sends that notification again at the next start,
// with the same Event.ID.
const (
	RetryFirst = 30 * time.Second
	RetryMax   = 15 * time.Minute
	GiveUp     = 24 * time.Hour
	// EvaluateEvery is how often Run evaluates every rule besides after each
	// round, so that `for` and resolve_after elapse between rounds.
	EvaluateEvery = 30 * time.Second
)

// Run evaluates every rule each EvaluateEvery and delivers due notifications,
// until ctx ends. Delivery has its own goroutine, so a slow notifier never
// holds up evaluation (nor, since rounds only queue, probing).
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.deliverLoop(ctx)
	}()
	tick := time.NewTicker(EvaluateEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
			if err := e.EvaluateAll(ctx); err != nil && ctx.Err() == nil {
				e.log().Error("alert evaluation failed", "err", err)
			}
		}
	}
}

// deliverLoop delivers what is due whenever Evaluate queued something, and
// when the next retry is due, until ctx ends.
func (e *Engine) deliverLoop(ctx context.Context) {
	wake := e.wakeup()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-retry.C:
		}
		if err := e.Dispatch(ctx); err != nil && ctx.Err() == nil {
			e.log().Error("alert delivery failed", "err", err)
		}
		// Wake for the next retry, or at the latest after EvaluateEvery.
		wait := EvaluateEvery
		if next, err := e.Store.NextNotification(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(e.now()), time.Second))
		}
		retry.Reset(wait)
	}
}

// wakeup is the channel on which Evaluate tells Run that notifications were
// queued.
func (e *Engine) wakeup() chan struct{} {
	e.wakeOnce.Do(func() { e.wake = make(chan struct{}, 1) })
	return e.wake
}

// poke tells Run that notifications were queued.
func (e *Engine) poke() {
	select {
	case e.wakeup() <- struct{}{}:
	default: // already told
	}
}

// Dispatch delivers every notification due now: each notifier's in order,
// the notifiers side by side. It returns an error only when the store fails.
func (e *Engine) Dispatch(ctx context.Context) error {
	due, err := e.Store.DueNotifications(ctx, e.now(), 1000)
	if err != nil {
		return err
	}
	byNotifier := map[string][]store.Notification{}
	for _, n := range due {
		byNotifier[n.Notifier] = append(byNotifier[n.Notifier], n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(byNotifier))
	for name, notes := range byNotifier {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, n := range notes {
				if ctx.Err() != nil {
					return // stopping: the rest wait in the outbox
				}
				if err := e.deliver(ctx, name, n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// deliver makes one attempt at one notification and records it. The record
// outlives a stop: a notification sent just then is not sent again.
func (e *Engine) deliver(ctx context.Context, name string, n store.Notification) error {
	st := context.WithoutCancel(ctx)
	log := e.log().With("notifier", name, "alert", n.Alert)
	var ev Event
	var sendErr error
	s := e.Notifiers[name]
	switch err := json.Unmarshal([]byte(n.Event), &ev); {
	case err != nil:
		sendErr = err
	case s == nil:
		log.Error("notification dropped: no notifier of that name in the config", "status", ev.Status)
		return e.Store.NotificationDone(st, n.ID, e.now(), store.NotificationFailed, "notifier not configured", time.Time{})
	default:
		sendErr = s.Notify(ctx, ev)
	}
	now := e.now()
	if sendErr == nil {
		log.Info("notification sent", "status", ev.Status, "attempts", n.Attempts+1)
		return e.Store.NotificationDone(st, n.ID, now, store.NotificationSent, "", time.Time{})
	}
	if ctx.Err() != nil {
		return nil // stopping: the attempt does not count
	}
	// Notifier errors name the notifier and the failure, never its URL or key.
	if now.Sub(n.CreatedAt) >= GiveUp {
		log.Error("notification given up", "status", ev.Status, "attempts", n.Attempts+1, "err", sendErr)
		return e.Store.NotificationDone(st, n.ID, now, store.NotificationFailed, sendErr.Error(), time.Time{})
	}
	wait := min(RetryFirst<<min(n.Attempts, 10), RetryMax)
	log.Warn("notification failed, will retry", "status", ev.Status, "attempts", n.Attempts+1, "retry_in", wait, "err", sendErr)
	return e.Store.NotificationDone(st, n.ID, now, "", sendErr.Error(), now.Add(wait))
}
