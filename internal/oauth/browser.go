package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// redirectAnswer is what the browser brought back to the loopback redirect.
type redirectAnswer struct {
	code                     string
	errCode, errDesc, errURI string
}

// Browser logs the account in with the authorization code grant and PKCE
// (RFC 7636, method S256) on a loopback redirect (RFC 8252 section 7.3): it
// listens on 127.0.0.1 at a port the system picks, hands the authorization URL
// to open (which shows it, or starts a browser), waits for the provider to
// send the browser back with a code, and trades the code for tokens.
func (l *Login) Browser(ctx context.Context, open func(authURL string)) error {
	const op = "browser login"
	p := l.Account.Profile
	if p.AuthURL == "" {
		return l.fail(op, fmt.Errorf("provider profile %q has no authorization endpoint (set authorization_url, or log in with --device)", p.ID))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return l.fail(op, fmt.Errorf("listening for the redirect on 127.0.0.1: %w", err))
	}
	redirect := fmt.Sprintf("http://127.0.0.1:%d/", ln.Addr().(*net.TCPAddr).Port)
	cfg := p.oauth2Config(redirect)
	state := randomHex(16)
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for _, k := range sortedKeys(p.AuthParams) {
		opts = append(opts, oauth2.SetAuthURLParam(k, p.AuthParams[k]))
	}
	if l.Account.Username != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", l.Account.Username))
	}
	answers := make(chan redirectAnswer, 1)
	srv := &http.Server{Handler: redirectHandler(state, answers), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	open(cfg.AuthCodeURL(state, opts...))
	var a redirectAnswer
	select {
	case a = <-answers:
	case <-ctx.Done():
		return l.fail(op, fmt.Errorf("stopped waiting for the browser to come back to %s: %w", redirect, ctx.Err()))
	}
	if a.errCode != "" {
		return &Error{Account: l.Account.Label(), Login: l.Account.Login, Op: op, Code: a.errCode, Description: a.errDesc, URI: a.errURI}
	}
	start := l.Options.now()
	hctx, cancel := l.Options.request(ctx)
	t, err := cfg.Exchange(hctx, a.code, oauth2.VerifierOption(verifier))
	cancel()
	if err != nil {
		return providerError(l.Account.Label(), l.Account.Login, op, err, a.code)
	}
	return l.save(op, t, start)
}

// redirectHandler answers the provider's redirect (RFC 6749 section 4.1.2):
// the first request with the right state delivers its code or error; others
// are told off and ignored, so a stray request cannot end the login.
func redirectHandler(state string, answers chan<- redirectAnswer) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "mailflow: this is not the answer to the login in progress", http.StatusBadRequest)
			return
		}
		a := redirectAnswer{code: q.Get("code"), errCode: q.Get("error"), errDesc: q.Get("error_description"), errURI: q.Get("error_uri")}
		if a.code == "" && a.errCode == "" {
			a.errCode = "invalid_request"
			a.errDesc = "the redirect carried neither a code nor an error"
		}
		once.Do(func() { answers <- a })
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if a.errCode != "" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "mailflow: the provider refused the login: %s %s\n", a.errCode, a.errDesc)
			return
		}
		fmt.Fprintln(w, "mailflow: logged in. You can close this window.")
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
