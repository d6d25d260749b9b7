package verdict

import "strings"

// AuthResults is one parsed Authentication-Results header field (RFC 8601
// section 2.2).
type AuthResults struct {
	// AuthservID names the receiver that wrote the field (RFC 8601 section
	// 2.5), in lower case. It is "" when the field has none, as Microsoft 365
	// writes it.
	AuthservID string
	// Version is the optional authres-version after the authserv-id
	// ("mx.example.org 1; ..."), "" when absent (RFC 8601 section 2.2).
	Version string
	// Results holds each method's result in field order; it is empty for
	// "none" (RFC 8601 section 2.2 no-result).
	Results []Result
	// Trusted is set by Authenticate when AuthservID is among the trusted ids
	// (RFC 8601 section 5).
	Trusted bool
	// Raw is the field value as received, unfolded.
	Raw string
	// Err describes what could not be parsed, "" when the value was clean;
	// offsets count bytes of Raw. A field that fails to parse is kept, with
	// every result that could be read.
	Err string
}

// Result is one method's result (RFC 8601 section 2.2 resinfo), e.g.
// "dkim=pass header.d=example.com".
type Result struct {
	Method  string // lower case: spf, dkim, dmarc, arc, iprev, auth, compauth...
	Version string // the method-version of "method/version", "" when absent
	// Value is the lower-case result: pass, fail, softfail, neutral, none,
	// temperror, permerror, policy... (RFC 8601 section 2.7).
	Value  string
	Reason string // the reasonspec's value, unquoted (RFC 8601 section 2.2)
	Props  []Prop // in field order
}

// Prop is a ptype.property=value pair of a result (RFC 8601 section 2.3).
// Type and Name are lower case (smtp, header, body, policy; mailfrom, d, i,
// from...). Type is "" for the bare name=value pairs some receivers add, such
// as Microsoft's action=none. Value is as written, unquoted.
type Prop struct {
	Type, Name, Value string
}

// Prop returns the value of the first property typ.name of r (RFC 8601
// section 2.3), or "". It compares without regard to case; typ "" finds a bare
// name=value pair.
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
	// AuthservID is the id of the field the summary came from, "" when no
	// field was trusted.
	AuthservID string
	// SPF, DKIM and DMARC are result values of the trusted field, "" when it
	// has no result for the method. With several DKIM results, DKIM is "pass"
	// when any passed, else the first result's value; with several SPF or
	// DMARC results, the first counts.
	SPF, DKIM, DMARC string
	// DKIMDomains lists, in lower case, the signing domain of each DKIM result
	// of the trusted field: header.d, or the domain of header.i when a
	// receiver (Gmail) writes only that (RFC 8601 section 2.7.1).
	DKIMDomains []string
	// Headers holds every Authentication-Results field, topmost (newest)
	// first, trusted or not. Untrusted ones are there to be shown, never
	// summarised.
	Headers []AuthResults
}

// Authenticate parses every Authentication-Results value, given in header
// order (topmost first), and summarises the topmost field whose authserv-id is
// in trusted, compared without regard to case.
//
// A receiver adds its field on top and removes fields bearing its own id that
// arrived from outside (RFC 8601 section 5); anything further down, or with
// another id, may have been written by the sender and is kept in Headers with
// Trusted false. A field with no authserv-id (Microsoft 365) is never trusted
// by id: deciding trust for it needs the provider and the field's position,
// which are not facts this function is given.
func Authenticate(values []string, trusted []string) Auth {
	var a Auth
	done := false
	for _, v := range values {
		ar, _ := ParseAuthResults(v) // a parse problem stays in ar.Err
		ar.Trusted = ar.AuthservID != "" && containsFold(trusted, ar.AuthservID)
		a.Headers = append(a.Headers, ar)
		if ar.Trusted && !done {
			done = true
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
			if d := dkimDomain(r); d != "" {
				a.DKIMDomains = append(a.DKIMDomains, d)
			}
		}
	}
}

// dkimDomain returns the signing domain of a DKIM result: header.d, else the
// domain part of header.i (the AUID, "@example.com" or "user@example.com").
func dkimDomain(r Result) string {
	if d := r.Prop("header", "d"); d != "" {
		return strings.ToLower(d)
	}
	i := r.Prop("header", "i")
	if at := strings.LastIndexByte(i, '@'); at >= 0 {
		return strings.ToLower(i[at+1:])
	}
	return ""
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
