package seedbox

import (
	"crypto/x509"
	"log/slog"
	"strings"
	"sync"
	"time"
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
	w   *Watcher
	key accountKey
}

// accountKey is what makes two Accounts the same mailbox watched the same way.
type accountKey struct {
	host, security, username, password, inbox, junk, junkNames, extra, serverName string
	port                                                                          int
	plain, cleanup, noIDLE                                                        bool
	timeout, poll, fastPoll                                                       time.Duration
	roots                                                                         *x509.CertPool
}

func keyOf(a Account) accountKey {
	k := accountKey{
		host: strings.ToLower(a.Host), security: a.Security, username: a.Username, password: a.Password,
		inbox: a.Inbox, junk: a.Junk, junkNames: strings.Join(a.JunkNames, "\x00"), extra: strings.Join(a.Extra, "\x00"),
		port: a.Port, plain: a.AllowPlaintextAuth, cleanup: a.Cleanup, noIDLE: a.NoIDLE, timeout: a.Timeout, poll: a.PollInterval, fastPoll: a.FastPoll,
	}
	if a.TLSConfig != nil {
		k.serverName, k.roots = a.TLSConfig.ServerName, a.TLSConfig.RootCAs
	}
	return k
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
	key := keyOf(acct)
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.watchers[acct.Name]
	if old != nil && old.key == key {
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
	p.watchers[acct.Name] = &pooled{w: w, key: key}
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
