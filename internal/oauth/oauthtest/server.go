// Package oauthtest is an OAuth2 authorization server on loopback, for tests
// only: the device authorization endpoint (RFC 8628), the authorization
// endpoint with PKCE (RFC 7636), the token endpoint with the device_code,
// authorization_code and refresh_token grants, and revocation (RFC 7009). Its
// access tokens last as long as a test says, its refresh tokens rotate when
// asked, it counts refresh calls, and Validate is the introspection a mail
// server (the lab) calls for each bearer token it is shown.
//
// It is not an authorization server to deploy: there is no user interface,
// consent is given by calling Approve, or by the browser user of Options.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server; the zero value works.
type Options struct {
	// ClientID and ClientSecret are the registered client (defaults
	// "mailflow-test" and no secret: a public client). With a secret, every
	// token request must carry it, in the body or as HTTP Basic.
	ClientID, ClientSecret string
	// Lifetime of access tokens (default 1h).
	Lifetime time.Duration
	// Rotate issues a new refresh token on each refresh and retires the old.
	Rotate bool
	// Now is the server's clock (default time.Now).
	Now func() time.Time
	// Interval is the device flow's polling interval in seconds (default 1).
	Interval int
	// BrowserUser is who approves at the authorization endpoint: its redirect
	// carries a code for this user. "" answers access_denied.
	BrowserUser string
}

// Server is a running authorization server.
type Server struct {
	URL string // base URL, http://127.0.0.1:PORT

	opts Options
	srv  *httptest.Server

	mu           sync.Mutex
	access       map[string]*grant
	refresh      map[string]*grant
	devices      map[string]*device // by device code
	userCodes    map[string]*device
	codes        map[string]*authCode
	refreshCalls int
	slowDowns    int
	hold         chan struct{} // non-nil: refresh grants wait for it to close
	issued       []string
	lastAuth     url.Values // the last authorization request's query
}

type grant struct {
	subject, scope string
	expiry         time.Time // access tokens only
	revoked        bool
	parent         string // an access token's refresh token
}

type device struct {
	code, userCode, scope string
	subject               string // set by Approve
	denied, used          bool
	expiry                time.Time
}

type authCode struct {
	subject, scope, redirect, challenge string
	used                                bool
}

// Start starts a server on 127.0.0.1.
func Start(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = "mailflow-test"
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = time.Hour
	}
	if opts.Interval <= 0 {
		opts.Interval = 1
	}
	s := &Server{opts: opts, access: map[string]*grant{}, refresh: map[string]*grant{},
		devices: map[string]*device{}, userCodes: map[string]*device{}, codes: map[string]*authCode{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /device", s.handleDevice)
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("GET /authorize", s.handleAuthorize)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// New starts a server that the test closes.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
	s.srv.Close()
}

// Endpoints of the server.
func (s *Server) AuthURL() string   { return s.URL + "/authorize" }
func (s *Server) TokenURL() string  { return s.URL + "/token" }
func (s *Server) DeviceURL() string { return s.URL + "/device" }

// ClientID returns the registered client's id.
func (s *Server) ClientID() string { return s.opts.ClientID }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// SlowDown makes the next n device-code polls answer slow_down.
func (s *Server) SlowDown(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowDowns = n
}

// Approve approves the device login showing userCode, as subject.
func (s *Server) Approve(userCode, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.userCodes[userCode]
	if d == nil {
		return fmt.Errorf("no device login with user code %q", userCode)
	}
	d.subject = subject
	return nil
}

// Deny refuses the device login showing userCode.
func (s *Server) Deny(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.userCodes[userCode]
	if d == nil {
		return fmt.Errorf("no device login with user code %q", userCode)
	}
	d.denied = true
	return nil
}

// Grant issues a refresh token for subject directly, as a past login would
// have, and returns it.
func (s *Server) Grant(subject, scope string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.newToken("rt")
	s.refresh[rt] = &grant{subject: subject, scope: scope}
	return rt
}

// RefreshCalls returns how many refresh_token grants were asked for.
func (s *Server) RefreshCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshCalls
}

// Hold makes refresh grants wait until the returned release is called (or
// the server closes), to keep refreshes in flight.
func (s *Server) Hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.hold = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Revoke revokes a refresh token and every access token issued from it, or
// one access token (RFC 7009 section 2.1).
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoke(token)
}

func (s *Server) revoke(token string) {
	if g := s.refresh[token]; g != nil {
		g.revoked = true
		for _, a := range s.access {
			if a.parent == token {
				a.revoked = true
			}
		}
	}
	if g := s.access[token]; g != nil {
		g.revoked = true
	}
}

// RevokeSubject revokes every token of subject, as a user removing the
// application's access would.
func (s *Server) RevokeSubject(subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*grant{s.access, s.refresh} {
		for _, g := range m {
			if g.subject == subject {
				g.revoked = true
			}
		}
	}
}

// Issued returns every token the server ever issued, access and refresh, and
// every device and authorization code: what must never show up in a log line,
// an error, the database or a report.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// LastAuthRequest returns the query of the last authorization request.
func (s *Server) LastAuthRequest() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAuth
}

// ErrInvalidToken is what Validate wraps for a token that grants nothing.
var ErrInvalidToken = errors.New("invalid token")

// Validate says whether token is a live access token of subject (compared
// without case): the server's introspection (RFC 7662 in spirit), for a
// mail server to call.
func (s *Server) Validate(subject, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.access[token]
	switch {
	case g == nil:
		return fmt.Errorf("%w: unknown", ErrInvalidToken)
	case g.revoked:
		return fmt.Errorf("%w: revoked", ErrInvalidToken)
	case !s.now().Before(g.expiry):
		return fmt.Errorf("%w: expired", ErrInvalidToken)
	case !strings.EqualFold(g.subject, subject):
		return fmt.Errorf("%w: issued to another user", ErrInvalidToken)
	}
	return nil
}

// newToken returns a new random token with a prefix and remembers it.
func (s *Server) newToken(prefix string) string {
	b := make([]byte, 18)
	rand.Read(b)
	t := prefix + "-" + hex.EncodeToString(b)
	s.issued = append(s.issued, t)
	return t
}

// issue makes an access token (and, with withRefresh, a refresh token) for
// subject and writes the token response (RFC 6749 section 5.1).
func (s *Server) issue(w http.ResponseWriter, subject, scope, refresh string, withRefresh bool) {
	at := s.newToken("at")
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.opts.Lifetime / time.Second)}
	if scope != "" {
		resp["scope"] = scope
	}
	if withRefresh {
		refresh = s.newToken("rt")
		s.refresh[refresh] = &grant{subject: subject, scope: scope}
		resp["refresh_token"] = refresh
	}
	s.access[at] = &grant{subject: subject, scope: scope, expiry: s.now().Add(s.opts.Lifetime), parent: refresh}
	writeJSON(w, http.StatusOK, resp)
}

// oauthError writes an error response (RFC 6749 section 5.2).
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// client checks the client's credentials, in the body or as HTTP Basic
// (RFC 6749 section 2.3.1).
func (s *Server) client(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == s.opts.ClientID && (s.opts.ClientSecret == "" || secret == s.opts.ClientSecret)
}

func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if r.PostForm.Get("client_id") != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &device{code: s.newToken("dc"), scope: r.PostForm.Get("scope"), expiry: s.now().Add(10 * time.Minute)}
	d.userCode = strings.ToUpper(hex.EncodeToString([]byte(d.code[len(d.code)-4:])))
	s.devices[d.code], s.userCodes[d.userCode] = d, d
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": d.code, "user_code": d.userCode,
		"verification_uri":          s.URL + "/activate",
		"verification_uri_complete": s.URL + "/activate?user_code=" + d.userCode,
		"expires_in":                600, "interval": s.opts.Interval,
	})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if !s.client(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	switch g := r.PostForm.Get("grant_type"); g {
	case "urn:ietf:params:oauth:grant-type:device_code":
		s.deviceGrant(w, r.PostForm.Get("device_code"))
	case "refresh_token":
		s.refreshGrant(w, r.PostForm.Get("refresh_token"))
	case "authorization_code":
		s.codeGrant(w, r.PostForm)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q", g))
	}
}

// deviceGrant answers a poll of the device flow (RFC 8628 section 3.5).
func (s *Server) deviceGrant(w http.ResponseWriter, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[code]
	switch {
	case d == nil || d.used:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used device code")
	case !s.now().Before(d.expiry):
		oauthError(w, http.StatusBadRequest, "expired_token", "the device code expired")
	case s.slowDowns > 0:
		s.slowDowns--
		oauthError(w, http.StatusBadRequest, "slow_down", "polling too fast")
	case d.denied:
		oauthError(w, http.StatusBadRequest, "access_denied", "the user refused access")
	case d.subject == "":
		oauthError(w, http.StatusBadRequest, "authorization_pending", "the user has not approved yet")
	default:
		d.used = true
		s.issue(w, d.subject, d.scope, "", true)
	}
}

// refreshGrant answers a refresh (RFC 6749 section 6), waiting while held.
func (s *Server) refreshGrant(w http.ResponseWriter, rt string) {
	s.mu.Lock()
	s.refreshCalls++
	if hold := s.hold; hold != nil {
		s.mu.Unlock()
		<-hold
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	g := s.refresh[rt]
	if g == nil || g.revoked {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	if s.opts.Rotate {
		g.revoked = true // the old token is retired; the new grant carries on
		s.issue(w, g.subject, g.scope, "", true)
		return
	}
	s.issue(w, g.subject, g.scope, rt, false)
}

// codeGrant trades an authorization code, checking its redirect URI and its
// PKCE verifier (RFC 7636 section 4.6).
func (s *Server) codeGrant(w http.ResponseWriter, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes[form.Get("code")]
	switch {
	case c == nil || c.used:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
	case c.redirect != form.Get("redirect_uri"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
	case s256(form.Get("code_verifier")) != c.challenge:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
	default:
		c.used = true
		s.issue(w, c.subject, c.scope, "", true)
	}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// handleAuthorize is the authorization endpoint: BrowserUser approves at
// once, and the browser goes back to the loopback redirect (RFC 8252 section
// 7.3) with a code, or with access_denied.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastAuth = q
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme != "http" || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" {
		http.Error(w, "redirect_uri must be a loopback address with a port (RFC 8252 section 7.3)", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != s.opts.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "unknown client or response_type", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	switch {
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "PKCE with S256 is required")
	case s.opts.BrowserUser == "":
		back.Set("error", "access_denied")
		back.Set("error_description", "the user refused access")
	default:
		code := s.newToken("ac")
		s.codes[code] = &authCode{subject: s.opts.BrowserUser, scope: q.Get("scope"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}
