package verdict

import "strings"

// AuthResults is one parsed Authentication-Results header (RFC 8601 section 2.2).
type AuthResults struct {
	// AuthservID names the receiver that wrote the header; "" when the header
	// has none (Microsoft 365 starts with the first result).
	AuthservID string
	Version    string   // the optional authres-version after the authserv-id
	Results    []Result // empty for "none"
	// Trusted is set when AuthservID is among the ids trusted for the seed.
	Trusted bool
	Raw     string // the header value as received, unfolded
	// Err describes what could not be parsed; the rest of the header is kept.
	Err string
}

// Result is one method's result, e.g. dkim=pass header.d=example.com
// (RFC 8601 section 2.2, resinfo).
type Result struct {
	Method  string // lower case: spf, dkim, dmarc, arc, iprev, auth, compauth...
	Version string // the method-version of "method/version"
	Value   string // lower case: pass, fail, softfail, neutral, none, temperror, permerror, policy...
	Reason  string
	Props   []Prop
}

// Prop is a ptype.property=value pair (RFC 8601 section 2.3). Type is lower case
// (smtp, header, body, policy); it is "" for the bare name=value pairs some
// receivers add, such as Microsoft's action=none.
type Prop struct {
	Type, Name, Value string
}

// Prop returns the value of the property typ.name, or "".
func (r Result) Prop(typ, name string) string {
	for _, p := range r.Props {
		if strings.EqualFold(p.Type, typ) && strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// Auth summarises authentication as the trusted receiver saw it.
type Auth struct {
	// AuthservID is the id of the header the summary came from ("" when no
	// header was trusted).
	AuthservID string
	// SPF, DKIM and DMARC are result values, "" when the trusted header has no
	// such method. With several DKIM results, DKIM is "pass" when any passed,
	// else the first result.
	SPF, DKIM, DMARC string
	// DKIMDomains lists header.d of each DKIM result of the trusted header.
	DKIMDomains []string
	// Headers holds every Authentication-Results header, topmost (newest)
	// first, trusted or not; untrusted ones are shown, never summarised.
	Headers []AuthResults
}

// Authenticate parses every Authentication-Results value, given in header order
// (topmost first), and summarises the topmost header whose authserv-id is in
// trusted (compared without regard to case). A header added by a sender, with an
// id of its choosing, sits below the receiver's and never counts unless trusted.
func Authenticate(values []string, trusted []string) Auth {
	var a Auth
	summarised := false
	for _, v := range values {
		ar, _ := ParseAuthResults(v)
		ar.Trusted = ar.AuthservID != "" && containsFold(trusted, ar.AuthservID)
		a.Headers = append(a.Headers, ar)
		if ar.Trusted && !summarised {
			summarised = true
			a.summarise(ar)
		}
	}
	return a
}

func (a *Auth) summarise(ar AuthResults) {
	a.AuthservID = ar.AuthservID
	for _, r := range ar.Results {
		switch r.Method {
		case "spf":
			if a.SPF == "" {
				a.SPF = r.Value
			}
		case "dmarc":
			if a.DMARC == "" {
				a.DMARC = r.Value
			}
		case "dkim":
			if a.DKIM == "" || r.Value == "pass" {
				a.DKIM = r.Value
			}
			if d := r.Prop("header", "d"); d != "" {
				a.DKIMDomains = append(a.DKIMDomains, d)
			}
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
