package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds what the daemon does besides probing: the HTTP listener
// ([web]), where alerts go ([notifiers.NAME]) and the alert rules of each
// check ([checks.NAME.alerts.RULE]).

// Defaults of the web listener and of alert rules.
const (
	DefaultListen          = "127.0.0.1:9717"
	DefaultNotifierTimeout = 10 * time.Second
	DefaultRenotify        = 4 * time.Hour
	DefaultResolveAfter    = 15 * time.Minute
	DefaultConsecutive     = 3
	DefaultExpiresWithin   = 14 * 24 * time.Hour
)

// Web is the daemon's HTTP listener: /metrics, /api/..., /healthz.
type Web struct {
	// Listen is host:port; "" when turned off (listen = "off").
	Listen string
	// Token is the bearer token every request must carry. It is required when
	// Listen is not a loopback address.
	Token Secret
}

// Notifier types.
const (
	NotifyWebhook = "webhook" // JSON POST, optionally HMAC-signed
	NotifySlack   = "slack"   // Slack-compatible incoming webhook
	NotifyCommand = "command" // a program with the alert in its environment and JSON on stdin
	NotifyEmail   = "email"   // a message sent over one of the paths
)

// Notifier is one place alerts are sent ([notifiers.NAME]).
type Notifier struct {
	Name string
	Line int
	Type string

	// URL of a webhook or Slack notifier: a secret, since whoever has it can post.
	URL Secret
	// HMACKey, when set, signs a webhook's body (hmac_secret_env or _file).
	HMACKey Secret
	// Command is the program and its arguments of a command notifier.
	Command []string
	// Path names the [paths.NAME] an email notifier sends through, and To its
	// recipients.
	Path string
	To   []string
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
}

// Rule kinds.
const (
	RuleLatency   = "latency"
	RulePlacement = "placement"
	RuleAuth      = "auth"
	RuleSMTP      = "smtp"
	RuleTLS       = "tls"
)

// Rule is one alert rule of a check ([checks.CHECK.alerts.NAME]). Each group
// of the check's probes (by path, seed, provider, or the whole check) is an
// alert of its own that moves pending → firing → resolved.
type Rule struct {
	Name  string
	Line  int
	Check string
	Kind  string
	// By groups the probes: "path", "seed", "provider" or "check". The default
	// depends on the kind: path for latency, smtp and tls; seed otherwise.
	By string
	// For is how long the condition must hold before the alert fires.
	For time.Duration
	// ResolveAfter is how long the condition must be false before a firing
	// alert resolves; a flapping probe keeps it firing instead of sending a
	// notification per round.
	ResolveAfter time.Duration
	// Renotify repeats the notification of a firing alert this often (0: never).
	Renotify time.Duration
	// Notify names the notifiers; empty means every notifier.
	Notify []string
	// Severity is "critical" (default) or "warning", passed to notifiers.
	Severity string

	// Threshold: latency over it. With Percentile 0, each probe of the latest
	// round is compared; else the Percentile (e.g. 95) of the round trips found
	// within Window.
	Threshold  time.Duration
	Percentile float64
	// Window is the span a percentile or a rate is computed over.
	Window time.Duration
	// Placements that count against a placement rule: spam, missing, tab, other
	// (default spam and missing). With Rate 0 any such probe of the latest
	// round fires; else the share of accepted probes within Window, in percent,
	// must exceed Rate.
	Placements []string
	Rate       float64
	// MinProbes is the fewest probes a window needs before its percentile or
	// rate is judged (default 1).
	MinProbes int
	// Methods an auth rule requires to pass: spf, dkim, dmarc (default all three).
	Methods []string
	// Aligned also requires a passing DKIM signature aligned with From.
	Aligned bool
	// Consecutive is how many failed submissions in a row fire an smtp rule.
	Consecutive int
	// ExpiresWithin fires a tls rule when the server's certificate expires
	// within this span; the rule also fires when TLS is no longer negotiated
	// on a path where it was.
	ExpiresWithin time.Duration
}

// Key is the rule's identity in the store and in notifications: "check/rule".
func (r *Rule) Key() string { return r.Check + "/" + r.Name }

type rawWeb struct {
	Listen    string `toml:"listen"`
	Token     string `toml:"token"` // refused: secrets never live in the file
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
}

type rawNotifier struct {
	Type           string   `toml:"type"`
	URL            string   `toml:"url"` // refused: a webhook URL is a secret
	URLEnv         string   `toml:"url_env"`
	URLFile        string   `toml:"url_file"`
	HMACSecret     string   `toml:"hmac_secret"` // refused
	HMACSecretEnv  string   `toml:"hmac_secret_env"`
	HMACSecretFile string   `toml:"hmac_secret_file"`
	Command        []string `toml:"command"`
	Path           string   `toml:"path"`
	To             []string `toml:"to"`
	Timeout        string   `toml:"timeout"`
}

type rawRule struct {
	Kind          string   `toml:"kind"`
	By            string   `toml:"by"`
	For           string   `toml:"for"`
	ResolveAfter  string   `toml:"resolve_after"`
	Renotify      *string  `toml:"renotify"`
	Notify        []string `toml:"notify"`
	Severity      string   `toml:"severity"`
	Threshold     string   `toml:"threshold"`
	Percentile    float64  `toml:"percentile"`
	Window        string   `toml:"window"`
	Placements    []string `toml:"placements"`
	Rate          float64  `toml:"rate"`
	MinProbes     int      `toml:"min_probes"`
	Methods       []string `toml:"methods"`
	Aligned       bool     `toml:"aligned"`
	Consecutive   int      `toml:"consecutive"`
	ExpiresWithin string   `toml:"expires_within"`
}

func newWeb(pr problems, rw rawWeb, dir string) Web {
	w := Web{Listen: or(rw.Listen, DefaultListen)}
	if w.Listen == "off" {
		w.Listen = ""
	}
	w.Token = secret(pr, "web", secretKeys{inline: rw.Token, env: rw.TokenEnv, file: rw.TokenFile, name: "token"}, dir)
	return w
}

func newNotifier(pr problems, name string, rn rawNotifier, dir string) *Notifier {
	key := "notifiers." + name
	return &Notifier{
		Name: name, Line: pr.lines.line(key), Type: rn.Type, Command: rn.Command, Path: rn.Path, To: rn.To,
		URL:     secret(pr, key, secretKeys{inline: rn.URL, env: rn.URLEnv, file: rn.URLFile, name: "url"}, dir),
		HMACKey: secret(pr, key, secretKeys{inline: rn.HMACSecret, env: rn.HMACSecretEnv, file: rn.HMACSecretFile, name: "hmac_secret"}, dir),
		Timeout: duration(pr, key+".timeout", rn.Timeout, DefaultNotifierTimeout),
	}
}

// ruleBy is the default grouping of each kind.
var ruleBy = map[string]string{RuleLatency: "path", RulePlacement: "seed", RuleAuth: "seed", RuleSMTP: "path", RuleTLS: "path"}

func newRule(pr problems, check, name string, rr rawRule) *Rule {
	key := "checks." + check + ".alerts." + name
	r := &Rule{
		Name: name, Line: pr.lines.line(key), Check: check, Kind: rr.Kind, By: or(rr.By, ruleBy[rr.Kind]),
		For:          duration(pr, key+".for", rr.For, 0),
		ResolveAfter: duration(pr, key+".resolve_after", rr.ResolveAfter, DefaultResolveAfter),
		Renotify:     DefaultRenotify,
		Notify:       rr.Notify, Severity: or(rr.Severity, "critical"),
		Threshold:  duration(pr, key+".threshold", rr.Threshold, 0),
		Percentile: rr.Percentile, Window: duration(pr, key+".window", rr.Window, 0),
		Placements: rr.Placements, Rate: rr.Rate, MinProbes: or(rr.MinProbes, 1),
		Methods: rr.Methods, Aligned: rr.Aligned, Consecutive: or(rr.Consecutive, DefaultConsecutive),
		ExpiresWithin: duration(pr, key+".expires_within", rr.ExpiresWithin, DefaultExpiresWithin),
	}
	if rr.Renotify != nil {
		r.Renotify = duration(pr, key+".renotify", *rr.Renotify, DefaultRenotify)
	}
	if rr.Kind == RulePlacement && len(r.Placements) == 0 {
		r.Placements = []string{"spam", "missing"}
	}
	if rr.Kind == RuleAuth && len(r.Methods) == 0 {
		r.Methods = []string{"spf", "dkim", "dmarc"}
	}
	return r
}

// validateWeb checks the listener: a usable address, and a token wherever
// someone other than this host could connect.
func validateWeb(pr problems, w Web) {
	if w.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(w.Listen)
	if err != nil {
		pr.add("web.listen", "%q is not host:port (e.g. %q, or \"off\")", w.Listen, DefaultListen)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		pr.add("web.listen", "%q: %q is not a TCP port", w.Listen, port)
	}
	if !IsLoopback(host) && !w.Token.IsSet() {
		pr.add("web.listen", "%q is reachable from other hosts, so it needs a bearer token (set token_env or token_file, or listen on 127.0.0.1)", w.Listen)
	}
}

// IsLoopback reports whether host (a name or an address, without port) can
// only be reached from this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

func (c *Config) validateNotifier(pr problems, key string, n *Notifier) {
	switch n.Type {
	case NotifyWebhook, NotifySlack:
		if !n.URL.IsSet() {
			pr.addCovered(key, key+".url", "a %s notifier needs its URL (set url_env or url_file: the URL is a secret)", n.Type)
		} else if u := n.URL.Reveal(); !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			// The value is a secret: say where it came from, not what it is.
			pr.add(key+".url", "the URL from %s does not start with https:// or http://", n.URL.Source())
		}
	case NotifyCommand:
		if len(n.Command) == 0 || n.Command[0] == "" {
			pr.add(key+".command", "missing (the program and its arguments, e.g. [\"/usr/local/bin/page\", \"--team\", \"mail\"])")
		}
	case NotifyEmail:
		if c.Paths[n.Path] == nil {
			pr.add(key+".path", "no path named %q (name the [paths.NAME] the alert is sent through; declared: %s)", n.Path, names(c.Paths))
		}
		if len(n.To) == 0 {
			pr.add(key+".to", "missing (the addresses alerts are sent to)")
		}
		for _, a := range n.To {
			if !isMailbox(a) {
				pr.add(key+".to", "%q is not an address (e.g. oncall@example.com)", a)
			}
		}
	default:
		pr.add(key+".type", "%q is not one of webhook, slack, command, email", n.Type)
	}
	if n.HMACKey.IsSet() && n.Type != NotifyWebhook {
		k := "hmac_secret_env"
		if strings.HasPrefix(n.HMACKey.Source(), "file:") {
			k = "hmac_secret_file"
		}
		pr.add(key+"."+k, "only a webhook notifier signs its body (drop %s)", k)
	}
	if n.Timeout <= 0 {
		pr.add(key+".timeout", "must be positive (e.g. \"10s\")")
	}
}

func (c *Config) validateRule(pr problems, key string, r *Rule) {
	if _, ok := ruleBy[r.Kind]; !ok {
		pr.add(key+".kind", "%q is not one of latency, placement, auth, smtp, tls", r.Kind)
		return
	}
	if _, ok := groupKeys[r.By]; !ok {
		pr.add(key+".by", "%q is not one of path, seed, provider, check", r.By)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"for", r.For}, {"resolve_after", r.ResolveAfter}, {"renotify", r.Renotify}} {
		if d.d < 0 {
			pr.add(key+"."+d.key, "must not be negative")
		}
	}
	for _, n := range r.Notify {
		if c.Notifiers[n] == nil {
			pr.add(key+".notify", "no notifier named %q (declared: %s)", n, names(c.Notifiers))
		}
	}
	if r.Severity != "critical" && r.Severity != "warning" {
		pr.add(key+".severity", "%q is not one of critical, warning", r.Severity)
	}
	windowed := false
	switch r.Kind {
	case RuleLatency:
		if r.Threshold <= 0 {
			pr.add(key+".threshold", "missing (the round trip that is too slow, e.g. \"30s\")")
		}
		if r.Percentile < 0 || r.Percentile > 100 {
			pr.add(key+".percentile", "%v is not a percentile (0 for each probe, else 1-100, e.g. 95)", r.Percentile)
		}
		windowed = r.Percentile > 0
	case RulePlacement:
		for _, p := range r.Placements {
			if !slices.Contains([]string{"spam", "missing", "tab", "other"}, p) {
				pr.add(key+".placements", "%q is not one of spam, missing, tab, other", p)
			}
		}
		if r.Rate < 0 || r.Rate >= 100 {
			pr.add(key+".rate", "%v is not a rate in percent (0 for any probe, else below 100, e.g. 10)", r.Rate)
		}
		windowed = r.Rate > 0
	case RuleAuth:
		for _, m := range r.Methods {
			if !slices.Contains([]string{"spf", "dkim", "dmarc"}, m) {
				pr.add(key+".methods", "%q is not one of spf, dkim, dmarc", m)
			}
		}
	case RuleSMTP:
		if r.Consecutive < 1 {
			pr.add(key+".consecutive", "must be at least 1 (default %d)", DefaultConsecutive)
		}
	case RuleTLS:
		if r.ExpiresWithin < 0 {
			pr.add(key+".expires_within", "must not be negative")
		}
	}
	over := map[string]string{RuleLatency: "percentile", RulePlacement: "rate"}[r.Kind]
	switch {
	case windowed && r.Window <= 0:
		pr.add(key+".window", "missing (the span the %s is computed over, e.g. \"1h\")", over)
	case !windowed && r.Window > 0 && over != "":
		pr.add(key+".window", "applies only to a %s (drop it, or set %s)", over, over)
	case !windowed && r.Window > 0:
		pr.add(key+".window", "a %s rule has no window (drop it)", r.Kind)
	}
	if r.MinProbes < 1 {
		pr.add(key+".min_probes", "must be at least 1")
	}
}

// groupKeys are the ways probes are grouped, by reports and alert rules.
var groupKeys = map[string]bool{"path": true, "seed": true, "provider": true, "check": true}

// describe says in one line what a rule watches, for `mailflow config check`.
func (r *Rule) describe() string {
	var s string
	switch r.Kind {
	case RuleLatency:
		if r.Percentile > 0 {
			s = fmt.Sprintf("p%g round trip within %s over %s", r.Percentile, human(r.Window), human(r.Threshold))
		} else {
			s = "a probe's round trip over " + human(r.Threshold)
		}
	case RulePlacement:
		if r.Rate > 0 {
			s = fmt.Sprintf("%s over %g%% within %s", strings.Join(r.Placements, "+"), r.Rate, human(r.Window))
		} else {
			s = "a probe in " + strings.Join(r.Placements, " or ")
		}
	case RuleAuth:
		s = strings.Join(r.Methods, ", ") + " not pass"
		if r.Aligned {
			s += ", or no aligned DKIM signature"
		}
	case RuleSMTP:
		s = fmt.Sprintf("%d failed submissions in a row", r.Consecutive)
	case RuleTLS:
		s = "TLS lost, or a certificate expiring within " + human(r.ExpiresWithin)
	}
	s += ", by " + r.By
	if r.For > 0 {
		s += ", for " + human(r.For)
	}
	return s
}
