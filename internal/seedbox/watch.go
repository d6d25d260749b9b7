package seedbox

import (
	"context"
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

	// stored is closed by Stored; cleanup waits for it.
	stored chan struct{}
}

// Stored tells the watcher that the facts of f are safe in the store, so the
// message may be deleted (when the account asks for cleanup). Deleting before
// that could lose a probe to a crash.
func (f Found) Stored() {
	if f.stored != nil {
		close(f.stored)
	}
}

// Watcher watches a seed's inbox and junk folder, each on its own connection
// (one IDLE covers one selected folder), for the tokens it is told to expect.
type Watcher struct {
	acct    Account
	log     *slog.Logger
	folders []Folder

	mu       sync.Mutex
	expected map[string]struct{}

	found  chan Found
	errs   chan error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Watch logs in, finds the folders and starts one watcher per folder. It returns
// once every folder is selected, so a probe sent afterwards cannot be missed.
// Close the Watcher to stop it.
func Watch(ctx context.Context, acct Account, log *slog.Logger) (*Watcher, error) {
	s, err := Dial(ctx, acct, log)
	if err != nil {
		return nil, err
	}
	all, err := s.Folders(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	folders, err := watched(all, acct.Name)
	if err != nil {
		s.Close()
		return nil, err
	}
	if len(folders) == 1 {
		log.Warn("no junk folder found; probes filed as spam will look missing", "seed", acct.Name)
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{
		acct: acct, log: log, folders: folders,
		expected: map[string]struct{}{},
		found:    make(chan Found, 64),
		errs:     make(chan error, 16),
		cancel:   cancel,
	}
	// The first folder reuses the session that listed the folders.
	sessions := []*Session{s}
	for range folders[1:] {
		extra, err := Dial(ctx, acct, log)
		if err != nil {
			for _, s := range sessions {
				s.Close()
			}
			cancel()
			return nil, err
		}
		sessions = append(sessions, extra)
	}
	fws := make([]*folderWatch, len(folders))
	for i, f := range folders {
		fws[i] = &folderWatch{w: w, folder: f, s: sessions[i]}
		if err := fws[i].selectFolder(ctx); err != nil {
			for _, s := range sessions {
				s.Close()
			}
			cancel()
			return nil, err
		}
	}
	for _, fw := range fws {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			fw.run(wctx)
		}()
	}
	return w, nil
}

// Folders returns the watched folders, inbox first.
func (w *Watcher) Folders() []Folder { return w.folders }

// Expect adds tokens to look for. Call it before the probe is sent.
func (w *Watcher) Expect(tokens ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range tokens {
		w.expected[t] = struct{}{}
	}
}

// Forget stops looking for a token (its probe failed, or its deadline passed).
func (w *Watcher) Forget(token string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.expected, token)
}

// claim reports whether token is expected and stops expecting it, so a probe
// copied into two folders is reported once, from the first folder that saw it.
func (w *Watcher) claim(token string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.expected[token]
	delete(w.expected, token)
	return ok
}

func (w *Watcher) isExpected(token string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.expected[token]
	return ok
}

// Found delivers each expected probe once, as it is seen.
func (w *Watcher) Found() <-chan Found { return w.found }

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
