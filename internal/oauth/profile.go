package oauth

import (
	"context"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/mailflow/mailflow/internal/config"
)

// Profile is an OAuth2 provider as a client sees it: its endpoints, the scopes
// mail access needs and the client registered with it.
type Profile struct {
	ID string // "google", "microsoft" or a custom id

	AuthURL   string // authorization endpoint (RFC 6749 section 3.1)
	TokenURL  string // token endpoint (RFC 6749 section 3.2)
	DeviceURL string // device authorization endpoint (RFC 8628 section 3.1); "" when the provider has none

	Scopes []string
	// AuthParams are extra parameters of the authorization request, such as
	// Google's access_type=offline and prompt=consent without which it
	// returns no refresh token on a second login.
	AuthParams map[string]string

	ClientID     string
	ClientSecret config.Secret // unset for public clients
}

// oauth2Config is the profile for golang.org/x/oauth2. Credentials go in the
// request body (client_secret_post), which Google and Microsoft both take; the
// auto-detection of x/oauth2 would send the secret twice on a refused request.
func (p Profile) oauth2Config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret.Reveal(),
		Endpoint: oauth2.Endpoint{
			AuthURL: p.AuthURL, TokenURL: p.TokenURL, DeviceAuthURL: p.DeviceURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURL,
		Scopes:      p.Scopes,
	}
}

// withClient makes x/oauth2 use client for its requests; nil keeps
// http.DefaultClient.
// request is ctx for one request to a provider: o's HTTP client, and a
// deadline of RefreshTimeout, so that no refresh, device poll or code
// exchange waits on a provider longer than that.
func (o Options) request(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := o.RefreshTimeout
	if timeout <= 0 {
		timeout = DefaultRefreshTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return withClient(ctx, o.HTTPClient), cancel
}

func withClient(ctx context.Context, client *http.Client) context.Context {
	if client == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, client)
}

// scopesOf returns the scopes a token response granted (RFC 6749 section
// 5.1: "scope" is optional when it equals the request), else want.
func scopesOf(tok *oauth2.Token, want []string) []string {
	if s, ok := tok.Extra("scope").(string); ok && strings.TrimSpace(s) != "" {
		return strings.Fields(s)
	}
	return want
}
