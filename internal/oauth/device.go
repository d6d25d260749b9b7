package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// deviceGrant is the grant type of RFC 8628 section 3.4.
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// Device flow answers of the token endpoint (RFC 8628 section 3.5).
const (
	codePending  = "authorization_pending"
	codeSlowDown = "slow_down"
)

// DeviceCode is what the user must do to approve a device login: open
// VerificationURI on any device and enter UserCode, before ExpiresAt.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	// VerificationURIComplete, when the provider gives one, holds the code
	// too: opening it is enough.
	VerificationURIComplete string
	ExpiresAt               time.Time
}

// Device logs the account in with the device authorization grant (RFC 8628):
// it asks the provider for a user code, hands it to show, then polls the
// token endpoint every interval the provider set — five seconds more after
// each slow_down — until the user approved, refused, or the code expired.
func (l *Login) Device(ctx context.Context, show func(DeviceCode)) error {
	const op = "device login"
	p := l.Account.Profile
	if p.DeviceURL == "" {
		return l.fail(op, fmt.Errorf("provider profile %q has no device authorization endpoint (log in with the browser, or set device_authorization_url)", p.ID))
	}
	hctx, cancel := l.Options.request(ctx)
	da, err := p.oauth2Config("").DeviceAuth(hctx)
	cancel()
	if err != nil {
		return providerError(l.Account.Label(), l.Account.Login, op, err)
	}
	code := DeviceCode{UserCode: da.UserCode, VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete}
	if !da.Expiry.IsZero() {
		// x/oauth2 dates the expiry on the wall clock; move it to ours.
		code.ExpiresAt = l.Options.now().Add(time.Until(da.Expiry))
	}
	show(code)
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // RFC 8628 section 3.2
	}
	for {
		if err := l.sleep(ctx, interval); err != nil {
			return l.fail(op, fmt.Errorf("stopped waiting for the user to approve: %w", err))
		}
		if !code.ExpiresAt.IsZero() && l.Options.now().After(code.ExpiresAt) {
			return &Error{Account: l.Account.Label(), Login: l.Account.Login, Op: op, Code: "expired_token",
				Description: "the user code expired before it was approved (run the login again)"}
		}
		start := l.Options.now()
		t, err := l.deviceToken(ctx, da.DeviceCode)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			switch re.ErrorCode {
			case codePending:
				continue
			case codeSlowDown:
				interval += 5 * time.Second // RFC 8628 section 3.5
				continue
			}
		}
		if err != nil {
			return providerError(l.Account.Label(), l.Account.Login, op, err, da.DeviceCode)
		}
		return l.save(op, t, start)
	}
}

// deviceToken makes one device access token request (RFC 8628 section 3.4).
// A refusal is an *oauth2.RetrieveError, as x/oauth2 reports one, without the
// body.
func (l *Login) deviceToken(ctx context.Context, deviceCode string) (*oauth2.Token, error) {
	p := l.Account.Profile
	form := url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}, "client_id": {p.ClientID}}
	if p.ClientSecret.IsSet() {
		form.Set("client_secret", p.ClientSecret.Reveal())
	}
	ctx, cancel := l.Options.request(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := l.Options.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the token endpoint's answer: %w", err)
	}
	var r tokenResponse
	jerr := json.Unmarshal(body, &r)
	if r.Error != "" || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &oauth2.RetrieveError{Response: resp, ErrorCode: r.Error, ErrorDescription: r.ErrorDescription, ErrorURI: r.ErrorURI}
	}
	if jerr != nil || r.AccessToken == "" {
		return nil, errors.New("the token endpoint answered without an access_token")
	}
	t := &oauth2.Token{AccessToken: r.AccessToken, TokenType: r.TokenType, RefreshToken: r.RefreshToken, ExpiresIn: r.expiresIn()}
	return t.WithExtra(map[string]any{"scope": r.Scope}), nil
}

// tokenResponse is a token endpoint's answer (RFC 6749 sections 5.1 and 5.2).
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        any    `json:"expires_in"` // a number; some providers send a string
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorURI         string `json:"error_uri"`
}

func (r tokenResponse) expiresIn() int64 {
	switch v := r.ExpiresIn.(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}
