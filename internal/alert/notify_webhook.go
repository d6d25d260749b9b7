package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mailflow/mailflow/internal/config"
)

// Headers of a signed webhook request. The signature is
//
//	X-Mailflow-Signature: sha256=HEX(HMAC-SHA256(key, TIMESTAMP + "." + BODY))
//
// where TIMESTAMP is the X-Mailflow-Timestamp value (decimal Unix seconds, as
// sent) and BODY the exact bytes of the request body. A receiver recomputes it,
// compares in constant time, and rejects a timestamp too far from its clock
// (e.g. 5 minutes) and an event id it has seen, so a captured request cannot be
// replayed.
const (
	SignatureHeader = "X-Mailflow-Signature"
	TimestampHeader = "X-Mailflow-Timestamp"
)

// sign returns the X-Mailflow-Signature value of body sent at timestamp (the
// X-Mailflow-Timestamp value): "sha256=" and the hex HMAC-SHA256, under key,
// of the timestamp, a dot and the body.
func sign(key []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// hook posts JSON to a secret URL: the webhook and Slack notifiers.
type hook struct {
	name string
	kind string // "webhook" or "slack", as errors name it
	url  string
	// secrets are the forms of the URL and of its parts that must not reach
	// an error, longest first.
	secrets []string
	key     []byte // HMAC key; nil: unsigned
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
	body    func(Event) ([]byte, error)
}

func newHook(n *config.Notifier, kind string, body func(Event) ([]byte, error)) (*hook, error) {
	raw := n.URL.Reveal()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The parser's error quotes the URL: say where it came from instead.
		return nil, fmt.Errorf("notifier %s: the URL from %s is not an http:// or https:// URL", n.Name, n.URL.Source())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2
	h := &hook{
		name: n.Name, kind: kind, url: raw, secrets: urlSecrets(raw, u), timeout: n.Timeout, now: time.Now, body: body,
		client: &http.Client{
			Transport: tr,
			Timeout:   n.Timeout,
			// A redirect would re-send the alert (and its signature) to a
			// place the config does not name: report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if n.HMACKey.IsSet() {
		h.key = []byte(n.HMACKey.Reveal())
	}
	return h, nil
}

// newWebhook posts the Event as its JSON body, signed when the notifier has
// an HMAC key.
func newWebhook(n *config.Notifier) (Notifier, error) {
	return newHook(n, "webhook", func(e Event) ([]byte, error) { return json.Marshal(e) })
}

// Name returns the notifier's name.
func (h *hook) Name() string { return h.name }

// maxAnswer bounds what is read of a response body, and answerShown what of
// it an error quotes.
const (
	maxAnswer   = 64 << 10
	answerShown = 200
)

// Notify posts the event. A 2xx answer is success; any other answer, a
// redirect included, is an error naming the status.
func (h *hook) Notify(ctx context.Context, e Event) error {
	body, err := h.body(e)
	if err != nil {
		return fmt.Errorf("notifier %s: encode event: %w", h.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return h.redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mailflow")
	if h.key != nil {
		ts := strconv.FormatInt(h.now().Unix(), 10)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, sign(h.key, ts, body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return h.redact(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	msg := fmt.Sprintf("notifier %s: %s answered %s", h.name, h.kind, h.scrub(resp.Status))
	// Scrubbed before it is cut, so that no cut-off piece of the URL is left.
	if a := h.scrub(printable(answer)); a != "" {
		if len(a) > answerShown {
			a = strings.ToValidUTF8(a[:answerShown], "") + "..."
		}
		msg += fmt.Sprintf(": %q", a)
	}
	return errors.New(msg)
}

// redact turns a transport error into one without the URL: *url.Error quotes
// it whole. The result unwraps to the cause, so that errors.Is still finds
// context.DeadlineExceeded.
func (h *hook) redact(err error) error {
	cause := err
	if ue, ok := err.(*url.Error); ok {
		cause = ue.Err
	}
	msg := h.scrub(cause.Error())
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		msg = fmt.Sprintf("no answer within %s (%s)", h.timeout, msg)
	}
	return &textError{msg: fmt.Sprintf("notifier %s: %s post: %s", h.name, h.kind, msg), err: cause}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// scrub removes the URL and its parts from s, in case an error or a server's
// answer echoes them.
func (h *hook) scrub(s string) string {
	for _, p := range h.secrets {
		s = strings.ReplaceAll(s, p, "[redacted]")
	}
	return s
}

// urlSecrets lists the forms of a URL an error could quote: the whole of it as
// written and as Go prints it, its path and query, and each part of them that
// looks like a token. The scheme and host are no secret, and dial errors
// need them.
func urlSecrets(raw string, u *url.URL) []string {
	whole := []string{raw, u.String(), u.Redacted(), u.RequestURI(), u.Path, u.EscapedPath(), u.RawPath, u.RawQuery, u.Fragment}
	var parts []string
	if u.User != nil {
		whole = append(whole, u.User.String())
		if pw, ok := u.User.Password(); ok {
			whole = append(whole, pw)
		}
	}
	for _, p := range []string{u.Path, u.EscapedPath(), u.RawPath} {
		parts = append(parts, strings.Split(p, "/")...)
	}
	for _, vs := range u.Query() {
		parts = append(parts, vs...)
	}
	var out []string
	add := func(p string, min int) {
		if len(p) >= min && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range whole {
		add(p, 2) // not "/": every error has slashes
	}
	for _, p := range parts {
		if tokenish(p) {
			add(p, 6)
		}
	}
	// Longest first, so a part inside a longer form does not break it up.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// tokenish reports whether a part of a URL looks like a key rather than a
// word: it has a digit or both cases, or is long. Words ("services",
// "webhook") stay, or errors that contain them would be garbled.
func tokenish(p string) bool {
	lower, upper, digit := false, false, false
	for _, c := range p {
		lower = lower || unicode.IsLower(c)
		upper = upper || unicode.IsUpper(c)
		digit = digit || unicode.IsDigit(c)
	}
	return digit || (lower && upper) || len(p) >= 16
}

// printable makes what a program or a server wrote fit one line of an error:
// runs of spaces and control characters become one space.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
	return strings.Join(strings.Fields(s), " ")
}

// textError is an error with a text of its own that unwraps to its cause, for
// errors.Is and errors.As: a transport error with the URL taken out of its
// text, a command's exit status with its stderr.
type textError struct {
	msg string
	err error
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.err }
