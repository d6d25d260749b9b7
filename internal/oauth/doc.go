// Package oauth obtains and keeps the OAuth2 access tokens of seeds and paths
// that log in with XOAUTH2 or OAUTHBEARER instead of a password: provider
// profiles, the token file that holds each account's refresh token, a token
// Source per account that refreshes before expiry and after a server refused a
// token, and the two ways to log in — the device authorization grant
// (RFC 8628) and the authorization code grant with PKCE (RFC 7636) on a
// loopback redirect (RFC 8252).
//
// It does not speak IMAP or SMTP: seedbox and submit take a Source as their
// token source, and package bearer holds the SASL mechanisms.
//
// No token ever leaves this package in an error, a log line or a String: errors
// carry the provider's error code and description (RFC 6749 section 5.2) and
// the account, and say to run `mailflow auth login NAME`.
//
// The client side is golang.org/x/oauth2 (authorization URL, PKCE, code
// exchange, refresh, device authorization request), except for polling the
// token endpoint during the device flow: x/oauth2's DeviceAccessToken sleeps
// on a real ticker in whole seconds and takes no clock, so the interval and
// slow_down rules (RFC 8628 section 3.5) could only be tested by waiting for
// them. Polling is done here, with an injected sleep.
package oauth
