package oauth

import (
	"context"
	"errors"
	"time"

	"golang.org/x/oauth2"
)

// Login logs one account in with the provider and stores its refresh token in
// the token file: by device code (Device) or in a browser (Browser).
type Login struct {
	Account Account
	File    *File
	Options Options
	// Sleep waits between polls of the token endpoint in the device flow;
	// nil waits for real.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (l *Login) sleep(ctx context.Context, d time.Duration) error {
	if l.Sleep != nil {
		return l.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Login) fail(op string, err error) *Error {
	return &Error{Account: l.Account.Label(), Login: l.Account.Login, Op: op, Err: err}
}

// save stores what a login obtained. A login without a refresh token is
// refused: the next refresh would have nothing to work with.
func (l *Login) save(op string, t *oauth2.Token, start time.Time) error {
	if t.RefreshToken == "" {
		return l.fail(op, errors.New("the provider returned no refresh token (Google returns one only with access_type=offline and prompt=consent, Microsoft only for the offline_access scope)"))
	}
	expiry := expiryOf(t, start)
	err := l.File.update(l.Account.Key(), func(e *entry) {
		*e = entry{
			Provider: l.Account.Profile.ID, RefreshToken: t.RefreshToken, AccessToken: t.AccessToken,
			TokenType: t.Type(), Expiry: expiry, Scopes: scopesOf(t, l.Account.Profile.Scopes),
			LoggedIn: l.Options.now().UTC(),
		}
	})
	if err != nil {
		return l.fail("token file", err)
	}
	l.Options.log().Info("oauth2 login stored", l.Account.Kind, l.Account.Name, "token_file", l.File.Path())
	return nil
}
