package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Account is one seed or path that logs in with OAuth2.
type Account struct {
	Kind string // "seed" or "path"
	Name string
	// Login is the argument of `mailflow auth login` that logs it in: its
	// name, or "seeds.NAME" when a path has the same name.
	Login string
	// Username is the mailbox, sent to the provider as login_hint.
	Username string
	Profile  Profile
}

// Key is the account's key in the token file: "seeds.NAME" or "paths.NAME".
func (a Account) Key() string { return a.Kind + "s." + a.Name }

// Label names the account for a reader: "seed gmail-1".
func (a Account) Label() string { return a.Kind + " " + a.Name }

// Defaults of Options.
const (
	DefaultEarly          = 5 * time.Minute
	DefaultRefreshTimeout = 30 * time.Second
)

// Options tune a Source or a Login; the zero value is ready to use.
type Options struct {
	// HTTPClient makes the requests to the provider; nil is http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Early is how long before its expiry an access token is refreshed
	// (default DefaultEarly, and at most a quarter of the token's lifetime).
	Early time.Duration
	// RefreshTimeout bounds one request to the provider: a refresh, a device
	// poll, a code exchange (default DefaultRefreshTimeout).
	RefreshTimeout time.Duration
	// Log receives a line per refresh and per failure; nil discards.
	Log *slog.Logger
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Source hands out the access token of one account. It refreshes the token
// before it expires and, once asked by Invalidate, after a server refused it.
// Refreshes of one account never run twice at once: callers that need a
// token while a refresh is in flight wait for that one. A refresh token the
// provider rotates is saved in the token file before the new access token is
// handed out.
//
// A Source is safe for concurrent use. Its String and LogValue name the
// account only.
type Source struct {
	acct Account
	file *File
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	loaded   bool         // the token file's access token was looked at
	cur      *accessToken // nil: none known
	inflight *refreshCall
	waiters  int    // callers waiting for inflight besides the one that started it
	joined   func() // called (with mu held) when a caller joins a refresh in flight; for tests
}

// accessToken is a token and when it stops working.
type accessToken struct {
	value    string
	expiry   time.Time     // zero: not known; used until a server refuses it
	lifetime time.Duration // 0 when not known (read from the token file)
}

// String masks the token.
func (t *accessToken) String() string { return "******" }

type refreshCall struct {
	done chan struct{}
	tok  *accessToken
	err  error
}

// NewSource returns the token source of acct, whose refresh token is in file.
func NewSource(acct Account, file *File, opts Options) *Source {
	return &Source{acct: acct, file: file, opts: opts, log: opts.log().With(acct.Kind, acct.Name)}
}

// LoginName returns the argument of mailflow auth login for the account.
func (s *Source) LoginName() string { return s.acct.Login }

// String names the account; the source's tokens are never printed.
func (s *Source) String() string { return "oauth2 token source of " + s.acct.Label() }

// LogValue names the account.
func (s *Source) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString names the account, for %#v.
func (s *Source) GoString() string { return s.String() }

// Token returns an access token that is valid for at least a while: the
// current one, or a fresh one when the current one expires within the early
// margin. It waits for a refresh in flight rather than starting another.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if !s.loaded {
		s.loaded = true
		if e, err := s.file.get(s.acct.Key()); err == nil && e != nil && e.AccessToken != "" && !e.Expiry.IsZero() {
			s.cur = &accessToken{value: e.AccessToken, expiry: e.Expiry}
		}
	}
	if s.fresh(s.cur) {
		v := s.cur.value
		s.mu.Unlock()
		return v, nil
	}
	return s.refreshLocked(ctx)
}

// Invalidate tells the source that a server refused rejected, and returns a
// token to try once more: a newer one when another caller has refreshed
// since, else a freshly refreshed one.
func (s *Source) Invalidate(ctx context.Context, rejected string) (string, error) {
	s.mu.Lock()
	s.loaded = true // the file's access token is the one refused, or older
	if s.cur != nil && s.cur.value != rejected && s.fresh(s.cur) {
		v := s.cur.value
		s.mu.Unlock()
		return v, nil
	}
	s.cur = nil
	s.log.Info("oauth2 token refused by the server; refreshing")
	return s.refreshLocked(ctx)
}

// fresh reports whether t may be handed out without a refresh.
func (s *Source) fresh(t *accessToken) bool {
	if t == nil {
		return false
	}
	if t.expiry.IsZero() {
		return true
	}
	early := s.opts.Early
	if early <= 0 {
		early = DefaultEarly
	}
	if t.lifetime > 0 && early > t.lifetime/4 {
		early = t.lifetime / 4
	}
	return s.opts.now().Before(t.expiry.Add(-early))
}

// refreshLocked joins the refresh in flight or starts one, and waits for it.
// It is called with s.mu held and releases it.
func (s *Source) refreshLocked(ctx context.Context) (string, error) {
	call := s.inflight
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		s.inflight = call
		go s.run(call)
	} else {
		s.waiters++
		if s.joined != nil {
			s.joined()
		}
		defer func() {
			s.mu.Lock()
			s.waiters--
			s.mu.Unlock()
		}()
	}
	s.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return "", fmt.Errorf("%s: waiting for an oauth2 token: %w", s.acct.Label(), ctx.Err())
	}
	if call.err != nil {
		return "", call.err
	}
	return call.tok.value, nil
}

// run is one refresh. It does not stop when the caller that started it gives
// up: others may be waiting for it, and a rotated refresh token must be saved.
func (s *Source) run(call *refreshCall) {
	ctx, cancel := s.opts.request(context.Background())
	defer cancel()
	tok, err := s.refresh(ctx)
	s.mu.Lock()
	if err == nil {
		s.cur = tok
	}
	s.inflight = nil
	call.tok, call.err = tok, err
	s.mu.Unlock()
	close(call.done)
}

// refresh trades the stored refresh token for a new access token (RFC 6749
// section 6) and stores the outcome.
func (s *Source) refresh(ctx context.Context) (*accessToken, error) {
	key := s.acct.Key()
	e, err := s.file.get(key)
	if err != nil {
		return nil, s.fail(&Error{Account: s.acct.Label(), Login: s.acct.Login, Op: "refresh", Err: err}, false)
	}
	if e == nil || e.RefreshToken == "" {
		return nil, s.fail(&Error{Account: s.acct.Label(), Login: s.acct.Login, Op: "refresh",
			Err: fmt.Errorf("%w: %s holds no refresh token for it", ErrNotLoggedIn, s.file.Path())}, false)
	}
	start := s.opts.now()
	t, err := s.acct.Profile.oauth2Config("").TokenSource(ctx, &oauth2.Token{RefreshToken: e.RefreshToken}).Token()
	if err != nil {
		return nil, s.fail(providerError(s.acct.Label(), s.acct.Login, "refresh", err, e.RefreshToken), true)
	}
	tok := &accessToken{value: t.AccessToken, expiry: expiryOf(t, start)}
	if !tok.expiry.IsZero() {
		tok.lifetime = tok.expiry.Sub(start)
	}
	rotated := t.RefreshToken != "" && t.RefreshToken != e.RefreshToken
	err = s.file.update(key, func(x *entry) {
		// A login that stored a new grant meanwhile wins over a rotation of
		// the old one.
		if rotated && x.RefreshToken == e.RefreshToken {
			x.RefreshToken = t.RefreshToken
		}
		x.AccessToken, x.TokenType, x.Expiry = t.AccessToken, t.Type(), tok.expiry
		x.Scopes = scopesOf(t, x.Scopes)
		x.LastRefresh, x.LastError = s.opts.now().UTC(), nil
		x.Refreshes++
	})
	if err != nil {
		// The access token works; the next start may not, if the provider
		// retired the old refresh token. Say so loudly, and go on.
		s.log.Error("oauth2 token refreshed but not saved", "rotated", rotated, "err", err)
		return tok, nil
	}
	s.log.Info("oauth2 token refreshed", "valid_until", tok.expiry.UTC().Format(time.RFC3339), "rotated", rotated)
	return tok, nil
}

// fail logs err, records it in the token file when record is set, and
// returns it.
func (s *Source) fail(err *Error, record bool) error {
	s.log.Warn("oauth2 refresh failed", "code", err.Code, "err", err)
	if record {
		rerr := s.file.update(s.acct.Key(), func(x *entry) {
			x.LastError = &ErrorRecord{At: s.opts.now().UTC(), Op: err.Op, Code: err.Code, Description: err.Description, Message: err.Error()}
		})
		if rerr != nil {
			s.log.Error("oauth2 failure not recorded in the token file", "err", rerr)
		}
	}
	return err
}

// expiryOf computes when t expires from its expires_in, on the source's clock.
func expiryOf(t *oauth2.Token, start time.Time) time.Time {
	switch {
	case t.ExpiresIn > 0:
		return start.Add(time.Duration(t.ExpiresIn) * time.Second)
	case !t.Expiry.IsZero():
		return t.Expiry
	}
	return time.Time{}
}
