package seedbox

import (
	"log/slog"
	"reflect"
	"sync"
)

// Pool keeps one long-lived Watcher per seed, shared by every round of every
// check, and bounds the connections all of them open to each host.
type Pool struct {
	log     *slog.Logger
	limiter *Limiter

	mu       sync.Mutex
	watchers map[string]*pooled // by seed name
	closed   bool
}

type pooled struct {
	w    *Watcher
	acct Account
}

// sameAccount reports whether a and b are the same mailbox watched the same
// way. Every field counts, so a field added to Account is compared without
// being listed here; of the TLS settings, the server name and the roots do
// (the roots are one *x509.CertPool per CA file, replaced when the file changes).
func sameAccount(a, b Account) bool {
	ta, tb := a.TLSConfig, b.TLSConfig
	a.TLSConfig, b.TLSConfig = nil, nil
	if !reflect.DeepEqual(a, b) || (ta == nil) != (tb == nil) {
		return false
	}
	return ta == nil || ta.ServerName == tb.ServerName && ta.RootCAs == tb.RootCAs
}

// NewPool returns a Pool allowing perHost IMAP connections per host.
func NewPool(perHost int, log *slog.Logger) *Pool {
	return &Pool{log: log, limiter: NewLimiter(perHost), watchers: map[string]*pooled{}}
}

// Limiter returns the pool's connection limiter, for other IMAP work (seed
// checks, housekeeping) that must stay within the same bound.
func (p *Pool) Limiter() *Limiter { return p.limiter }

// Watcher returns the seed's watcher, starting one if there is none. A seed
// whose account changed (a CA file rewritten, another server) gets a new
// watcher, which takes over the tokens the old one was looking for.
func (p *Pool) Watcher(acct Account) *Watcher {
	acct.Limiter = p.limiter
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.watchers[acct.Name]
	if old != nil && sameAccount(old.acct, acct) {
		return old.w
	}
	w := NewWatcher(acct, p.log)
	if p.closed {
		w.Close()
	}
	if old != nil {
		old.w.mu.Lock()
		for tok, sink := range old.w.expected {
			w.expected[tok] = sink
		}
		old.w.mu.Unlock()
		go old.w.Close()
	}
	p.watchers[acct.Name] = &pooled{w: w, acct: acct}
	return w
}

// Close closes every watcher; a Watcher asked for afterwards is closed at once.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	ws := p.watchers
	p.watchers = map[string]*pooled{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pw := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw.w.Close()
		}()
	}
	wg.Wait()
}
