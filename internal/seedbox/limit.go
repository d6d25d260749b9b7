package seedbox

import (
	"context"
	"strings"
	"sync"
)

// Limiter bounds the IMAP connections open at once to each host. Providers cap
// concurrent sessions, and a thousand seeds at one provider must not open two
// thousand connections. Waiters are served first come, first served, and a
// connection holder can learn that others wait (Contended) and hand its slot on.
type Limiter struct {
	max int

	mu    sync.Mutex
	hosts map[string]*hostSlots
}

type hostSlots struct {
	// max is the host's own bound when lower than the Limiter's (see Cap); 0
	// when it has none.
	max     int
	open    int
	waiters []chan struct{}
	// yielding counts holders that said they will hand their slot on, so
	// that one waiter makes one holder yield, not every holder that noticed.
	yielding int
	// contended is closed when a waiter arrives, and replaced once none waits.
	contended chan struct{}
}

// NewLimiter returns a Limiter allowing perHost connections per host (at least 1).
func NewLimiter(perHost int) *Limiter {
	return &Limiter{max: max(perHost, 1), hosts: map[string]*hostSlots{}}
}

// Cap lowers the bound of one host to n, a provider's cap on concurrent
// sessions per account: every connection mailflow opens there, over all
// accounts, stays within it. A cap above the Limiter's bound, or below 1,
// changes nothing.
func (l *Limiter) Cap(host string, n int) {
	if n < 1 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.host(host); n < l.max && (h.max == 0 || n < h.max) {
		h.max = n
	}
}

// bound is the number of connections host h may have open.
func (l *Limiter) bound(h *hostSlots) int {
	if h.max > 0 {
		return h.max
	}
	return l.max
}

func (l *Limiter) host(name string) *hostSlots {
	name = strings.ToLower(name)
	h := l.hosts[name]
	if h == nil {
		h = &hostSlots{contended: make(chan struct{})}
		l.hosts[name] = h
	}
	return h
}

// acquire waits for a free slot at host, or for ctx to end. The returned
// function gives the slot back; it may be called more than once.
func (l *Limiter) acquire(ctx context.Context, host string) (release func(), err error) {
	l.mu.Lock()
	h := l.host(host)
	if h.open < l.bound(h) && len(h.waiters) == 0 {
		h.open++
		l.mu.Unlock()
		return l.releaser(h), nil
	}
	ready := make(chan struct{})
	h.waiters = append(h.waiters, ready)
	if len(h.waiters) == 1 {
		close(h.contended)
	}
	l.mu.Unlock()
	select {
	case <-ready: // the releaser counted the slot as ours
		return l.releaser(h), nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, w := range h.waiters {
			if w == ready {
				h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
				l.settle(h)
				return nil, ctx.Err()
			}
		}
		// Handed a slot just as ctx ended: give it to the next in line.
		l.handOn(h)
		return nil, ctx.Err()
	}
}

func (l *Limiter) releaser(h *hostSlots) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.handOn(h)
		})
	}
}

// handOn passes a released slot to the first waiter, or frees it. l.mu is held.
func (l *Limiter) handOn(h *hostSlots) {
	if h.yielding > 0 {
		h.yielding-- // a promised slot, or one that made a promise unneeded
	}
	if len(h.waiters) == 0 {
		h.open--
		return
	}
	close(h.waiters[0])
	h.waiters = h.waiters[1:]
	l.settle(h)
}

// settle renews the contended signal once nobody waits. l.mu is held.
func (l *Limiter) settle(h *hostSlots) {
	if len(h.waiters) == 0 {
		select {
		case <-h.contended:
			h.contended = make(chan struct{})
		default:
		}
	}
}

// Yield reports whether the caller, holding a slot at host, should hand it
// on: true while more connections wait than holders have already said they
// would yield. A caller told true must release its slot soon.
func (l *Limiter) Yield(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.host(host)
	if len(h.waiters) > h.yielding {
		h.yielding++
		return true
	}
	return false
}

// Contended returns a channel that is closed while some connection to host is
// waiting for a slot.
func (l *Limiter) Contended(host string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.host(host).contended
}

// Open returns the number of connections held at host.
func (l *Limiter) Open(host string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.host(host).open
}
