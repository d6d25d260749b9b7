package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// ErrNotLoggedIn is wrapped by the Error of an account the token file holds
// no refresh token for.
var ErrNotLoggedIn = errors.New("not logged in")

// Error is a failure to obtain or keep a token for one account. It carries
// the provider's error code and description (RFC 6749 section 5.2, RFC 8628
// section 3.5) and never a token. Its message names the account and the
// command that mends it.
type Error struct {
	// Account names the account for a reader: "seed gmail-1", "path gmail-smtp".
	Account string
	// Login is the argument of `mailflow auth login` that mends the account.
	Login string
	// Op is what failed: "refresh", "device login", "browser login", "token file".
	Op string
	// Code, Description and URI are the provider's error, error_description
	// and error_uri; "" when the failure was not the provider's answer.
	Code, Description, URI string
	// Status is the HTTP status of the provider's answer, 0 without one.
	Status int
	// Err is the cause when there is no provider answer (network, token file).
	Err error
}

// Error reads "seed gmail-1: oauth2 refresh: invalid_grant: Token has been
// expired or revoked. (run mailflow auth login gmail-1)".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: oauth2 %s: ", e.Account, e.Op)
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Status != 0:
		fmt.Fprintf(&b, "the token endpoint answered HTTP %d without an OAuth2 error", e.Status)
	default:
		b.WriteString("failed")
	}
	if e.Login != "" && e.needsLogin() {
		fmt.Fprintf(&b, " (run mailflow auth login %s)", e.Login)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// needsLogin reports whether logging in again is the fix: the provider refused
// the grant or the client, or there is nothing to refresh with. A network
// failure or a full disk is not mended by logging in.
func (e *Error) needsLogin() bool {
	switch e.Code {
	case "":
		return errors.Is(e.Err, ErrNotLoggedIn)
	case "temporarily_unavailable", "server_error", "slow_down", "authorization_pending":
		return false
	}
	return true
}

// providerError turns what x/oauth2 returned into an Error for account. The
// RetrieveError's body is never kept: a provider's odd answer might echo what
// it was sent. secrets are masked out of the provider's description.
func providerError(account, login, op string, err error, secrets ...string) *Error {
	e := &Error{Account: account, Login: login, Op: op}
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		e.Code, e.Description, e.URI = re.ErrorCode, mask(re.ErrorDescription, secrets), mask(re.ErrorURI, secrets)
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
	case errors.As(err, &ue):
		// The URL is the token endpoint's; the request body, which holds the
		// refresh token, is not part of a url.Error.
		e.Err = ue
	default:
		e.Err = errors.New(mask(err.Error(), secrets))
	}
	return e
}

// mask replaces every secret in s.
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "******")
		}
	}
	return s
}
