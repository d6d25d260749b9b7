package seedbox

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Found is a probe message seen in a seed folder.
type Found struct {
	Seed   string
	Token  string
	Folder string
	Role   string
	UID    uint32
	// InternalDate is when the server stored the message (often whole seconds).
	InternalDate time.Time
	// SeenAt is when the watcher's search first returned the message, read with
	// the full resolution of the local clock. It keeps Go's monotonic reading, so
	// latency measured against a time.Now() of the same process ignores clock steps.
	SeenAt time.Time
	Flags  []string
	Header []byte // the full header block as stored
	// Unwatched says the message arrived (by its INTERNALDATE) before the
	// folder's current connection started watching: after a reconnect or
	// while waiting for a turn. SeenAt then includes that gap.
	Unwatched bool
	// Tab is the Gmail tab of a message found in a Gmail inbox ("primary",
	// "promotions", "social", "updates", "forums"), "" elsewhere or when the
	// server would not say.
	Tab string

	// stored queues the message's deletion; nil when the account keeps messages.
	stored func()
}

// Stored tells the watcher that the facts of f are safe in the store, so the
// message may be deleted (when the account asks for cleanup). Deleting before
// that could lose a probe to a crash. It never blocks: the folder's watcher
// deletes the message on its connection soon after.
func (f Found) Stored() {
	if f.stored != nil {
		f.stored()
	}
}

// retryAfter is how long a failed first connection is reported as is before
// the next Ready tries again; rounds that start together share one attempt.
const retryAfter = 10 * time.Second

// Watcher watches one seed's inbox and junk folder for the tokens it is told to
// expect, for as long as it lives: one Watcher serves every round of every check
// that names the seed. Each folder is watched on its own connection (one IDLE
// covers one selected folder), opened when there is something to look for and
// kept open between rounds, unless other connections to the same host are
// waiting for a slot: then, after a search, it logs out and takes its turn again
// a poll interval later.
type Watcher struct {
	acct Account
	log  *slog.Logger

	mu       sync.Mutex
	expected map[string]chan<- Found
	// more is closed and replaced when tokens are expected, to wake idle folders.
	more chan struct{}
	// expectedAt is when tokens were last expected: fast polling runs for
	// fastWindow after it.
	expectedAt time.Time
	// folders is nil until the first connection found them.
	folders []Folder
	// attempt is closed when a running first connection ends; nil when none runs.
	attempt  chan struct{}
	err      error // why the last first connection failed
	failedAt time.Time

	errs   chan error
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWatcher returns a Watcher for acct that has not connected yet; Ready
// connects it. Close it when done.
func NewWatcher(acct Account, log *slog.Logger) *Watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Watcher{
		acct: acct, log: log,
		expected: map[string]chan<- Found{},
		more:     make(chan struct{}),
		errs:     make(chan error, 16),
		ctx:      ctx, cancel: cancel,
	}
}

// Watch returns a Watcher that is Ready.
func Watch(ctx context.Context, acct Account, log *slog.Logger) (*Watcher, error) {
	w := NewWatcher(acct, log)
	if err := w.Ready(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Ready returns nil once the seed's folders are known and watched: a probe sent
// afterwards cannot be missed. The first call logs in, finds the folders and
// starts their watchers; later calls return at once. When the first connection
// failed (a wrong password, an unreachable server), Ready returns why, and
// tries again if the failure is older than retryAfter.
func (w *Watcher) Ready(ctx context.Context) error {
	w.mu.Lock()
	if w.folders != nil {
		w.mu.Unlock()
		return nil
	}
	if w.attempt == nil {
		if w.err != nil && time.Since(w.failedAt) < retryAfter {
			err := w.err
			w.mu.Unlock()
			return err
		}
		w.attempt = make(chan struct{})
		w.wg.Add(1)
		go w.discover(w.attempt)
	}
	attempt := w.attempt
	w.mu.Unlock()
	select {
	case <-attempt:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.folders != nil {
		return nil
	}
	return w.err
}

// discover logs in, finds the folders and starts one watcher per folder; the
// inbox's watcher keeps the session that found them, with the inbox selected
// before Ready returns, so that what arrives next is seen as it arrives.
func (w *Watcher) discover(done chan struct{}) {
	defer w.wg.Done()
	folders, s, err := w.findFolders()
	var fws []*folderWatch
	for i, f := range folders {
		fws = append(fws, &folderWatch{w: w, folder: f, poke: make(chan struct{}, 1)})
		if i == 0 {
			fws[0].s = s
			if err = fws[0].selectFolder(w.ctx); err != nil {
				s.abort()
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	defer close(done)
	w.attempt = nil
	if err != nil {
		w.err, w.failedAt = err, time.Now()
		return
	}
	if w.ctx.Err() != nil { // closed meanwhile
		s.Close()
		w.err = errors.New("seed " + w.acct.Name + ": watcher closed")
		return
	}
	w.folders, w.err = folders, nil
	if len(folders) == 1 {
		w.log.Warn("no junk folder found; probes filed as spam will look missing", "seed", w.acct.Name)
	}
	for _, fw := range fws {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			fw.run(w.ctx)
		}()
	}
}

func (w *Watcher) findFolders() ([]Folder, *Session, error) {
	s, err := Dial(w.ctx, w.acct, w.log)
	if err != nil {
		return nil, nil, err
	}
	all, err := s.Folders(w.ctx)
	if err == nil {
		var folders []Folder
		if folders, err = watched(all, w.acct.Name, w.acct.Extra); err == nil {
			return folders, s, nil
		}
	}
	s.Close()
	return nil, nil, err
}

// Folders returns the watched folders, inbox first; nil before Ready succeeded.
func (w *Watcher) Folders() []Folder {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.folders
}

// Expect adds tokens to look for; each one found is sent once to sink, which
// must have room for it (the watcher never waits on a sink). Call it before
// the probe is sent.
func (w *Watcher) Expect(sink chan<- Found, tokens ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range tokens {
		w.expected[t] = sink
	}
	w.expectedAt = time.Now()
	close(w.more)
	w.more = make(chan struct{})
}

// Forget stops looking for a token (its probe failed, or its deadline passed).
func (w *Watcher) Forget(token string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.expected, token)
}

// claim returns the sink of an expected token and stops expecting it, so a
// probe copied into two folders is reported once, from the first folder that saw it.
func (w *Watcher) claim(token string) chan<- Found {
	w.mu.Lock()
	defer w.mu.Unlock()
	sink := w.expected[token]
	delete(w.expected, token)
	return sink
}

func (w *Watcher) isExpected(token string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.expected[token]
	return ok
}

// waiting returns whether any token is expected, and a channel closed when
// more are.
func (w *Watcher) waiting() (bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.expected) > 0, w.more
}

// fastWindow is how long after a probe is expected its seed is polled every
// Account.FastPoll: deliveries that take longer are found by IDLE as usual.
const fastWindow = 10 * time.Second

// fastPolling reports whether folders should poll every FastPoll now instead
// of idling: the account asks for it, a token is expected, and the last one
// came within fastWindow.
func (w *Watcher) fastPolling() bool {
	if w.acct.FastPoll <= 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.expected) > 0 && time.Since(w.expectedAt) < fastWindow
}

// Errors delivers connection problems; the watcher keeps reconnecting.
func (w *Watcher) Errors() <-chan error { return w.errs }

// Close stops every folder watcher and logs out.
func (w *Watcher) Close() {
	w.cancel()
	w.wg.Wait()
}

func (w *Watcher) report(err error) {
	select {
	case w.errs <- err:
	default: // a reader that is not listening must not stall the watcher
	}
}

// backoff returns the wait before reconnect attempt n: exponential from 500ms,
// capped at 30s, with jitter so that many seeds do not reconnect in step.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n, 6)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}
