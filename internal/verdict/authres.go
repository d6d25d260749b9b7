package verdict

import (
	"net/mail"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

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
	// Trusted is set by Authenticate when the field is trusted (RFC 8601
	// section 5); ARC fields are never trusted.
	Trusted bool
	// Field is the field's name: Authentication-Results or
	// ARC-Authentication-Results.
	Field string
	// Instance is the i= of an ARC-Authentication-Results field (RFC 8617
	// section 4.2.1), 0 for others.
	Instance int
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
	// Comments holds the text of the comments after the result, where
	// receivers put facts the grammar has no place for: Gmail's and Yahoo's
	// DMARC "(p=REJECT sp=NONE dis=NONE)", OpenDKIM's "(2048-bit key)".
	Comments []string
}

// Prop is a ptype.property=value pair of a result (RFC 8601 section 2.3).
// Type and Name are lower case (smtp, header, body, policy; mailfrom, d, i,
// from...). Type is "" for the bare name=value pairs some receivers add, such
// as Microsoft's action=none. Value is as written, unquoted.
type Prop struct {
	Type, Name, Value string
}

// Key is "ptype.property", or the bare name of pairs such as Microsoft's
// action=none, which have no ptype.
func (p Prop) Key() string {
	if p.Type == "" {
		return p.Name
	}
	return p.Type + "." + p.Name
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
	// field was trusted (or when the trusted field is Microsoft's, which has none).
	AuthservID string
	// Trusted says whether a field was trusted; every summary below is empty
	// without one.
	Trusted bool
	// SPF, DKIM, DMARC and ARC are result values of the trusted field, "" when
	// it has no result for the method. With several DKIM results, DKIM is
	// "pass" when any passed, else the first result's value; with several SPF,
	// DMARC or ARC results, the first counts.
	SPF, DKIM, DMARC, ARC string
	// SPFBestGuess says the SPF result is the receiver's guess for a domain
	// that publishes no SPF record (Gmail's "best guess record").
	SPFBestGuess bool
	// DKIMSignatures holds each DKIM result of the trusted field.
	DKIMSignatures []DKIMSignature
	// DMARCPolicy is the policy the receiver found published (none,
	// quarantine, reject), and DMARCDisposition what it did (none, quarantine,
	// reject), both "" when the receiver does not say.
	DMARCPolicy, DMARCDisposition string
	// CompAuth and CompAuthReason are Microsoft's composite authentication
	// result and its reason code ("pass", "100").
	CompAuth, CompAuthReason string
	// FromDomain is the domain of the From field, lower case, "" when unreadable.
	FromDomain string
	// Headers holds every Authentication-Results field, topmost (newest)
	// first, trusted or not. Untrusted ones are there to be shown, never
	// summarised.
	Headers []AuthResults
	// ARCResults holds every ARC-Authentication-Results field (RFC 8617
	// section 4.1.1), topmost first, with its instance. ARC sets are written
	// by intermediaries the seed's receiver vouches for through the arc
	// result, so they are shown, never summarised.
	ARCResults []AuthResults
	// ARCChain is the number of ARC sets (the highest ARC-Seal instance), and
	// ARCChainValidation the cv= of that seal (none, pass, fail), "" without one.
	ARCChain           int
	ARCChainValidation string
	// ARCErr says how the ARC sets break RFC 8617 section 4.2: instances
	// must run 1..N, each with exactly one seal, one message signature and
	// one results field. "" when they do, or when there is no ARC at all.
	ARCErr string
}

// DKIMSignature is one DKIM result of the trusted field.
type DKIMSignature struct {
	Domain   string // header.d, or the domain of header.i (Gmail writes only that); lower case
	Selector string // header.s, "" when the receiver does not say
	Result   string
	// Aligned says the signing domain and the From domain share an
	// organizational domain (DMARC relaxed alignment, RFC 7489 section 3.1.1).
	Aligned bool
}

// Trust says which Authentication-Results fields to believe.
type Trust struct {
	// IDs are the trusted authserv-ids, compared without regard to case.
	IDs []string
	// TopmostWithoutID trusts the topmost field when it has no authserv-id, as
	// Microsoft 365 writes it: its receiver stamps the field above everything
	// a sender could have written, and no id can be checked.
	TopmostWithoutID bool
	// SpamFilters names the spam filters (SpamVerdict.Filter) the receiver
	// runs: their verdict is the receiver's. A filter's fields carry no id,
	// so this is as far as trust goes for them.
	SpamFilters []string
}

// Authenticate parses the Authentication-Results and ARC fields of a header
// and summarises the topmost field the trust allows.
//
// A receiver adds its field on top and removes fields bearing its own id that
// arrived from outside (RFC 8601 section 5); anything further down, or with
// another id, may have been written by the sender and is kept in Headers with
// Trusted false.
func Authenticate(fields Fields, trust Trust) Auth {
	a := Auth{FromDomain: fromDomain(fields.Get("From"))}
	merging := true              // until an untrusted field follows the first trusted one
	methods := map[string]bool{} // methods already read from a trusted field
	for i, v := range fields.Values("Authentication-Results") {
		ar, _ := ParseAuthResults(v) // a parse problem stays in ar.Err
		ar.Field = "Authentication-Results"
		ar.Trusted = ar.AuthservID != "" && trustsID(trust.IDs, ar.AuthservID) ||
			ar.AuthservID == "" && i == 0 && trust.TopmostWithoutID && len(ar.Results) > 0
		a.Headers = append(a.Headers, ar)
		switch {
		case ar.Trusted && merging:
			// Many receivers write one field per method (OpenDKIM and
			// OpenDMARC, Proton, iCloud): the trusted fields on top are read
			// as one, the first result of a method counting.
			a.summarise(ar, methods)
		case a.Trusted:
			merging = false
		}
	}
	var seals, sigs, results []int
	for _, v := range fields.Values("ARC-Authentication-Results") {
		ar := ParseARCAuthResults(v)
		a.ARCResults = append(a.ARCResults, ar)
		results = append(results, ar.Instance)
	}
	for _, v := range fields.Values("ARC-Seal") {
		i, cv := arcSeal(v)
		seals = append(seals, i)
		if i > a.ARCChain {
			a.ARCChain, a.ARCChainValidation = i, cv
		}
	}
	for _, v := range fields.Values("ARC-Message-Signature") {
		i, _ := arcSeal(v) // the same tag=value syntax
		sigs = append(sigs, i)
	}
	a.ARCErr = arcStructure(seals, sigs, results)
	return a
}

// summarise adds a trusted field's results to the summary. A method already
// read from a field above is not read again: a field further down cannot
// change what the topmost said, only add methods it did not cover.
func (a *Auth) summarise(ar AuthResults, methods map[string]bool) {
	if !a.Trusted {
		a.Trusted, a.AuthservID = true, ar.AuthservID
	}
	fresh := map[string]bool{}
	for _, r := range ar.Results {
		if !methods[r.Method] {
			fresh[r.Method] = true
		}
	}
	for m := range fresh {
		methods[m] = true
	}
	for _, r := range ar.Results {
		if !fresh[r.Method] {
			continue
		}
		switch r.Method {
		case "spf":
			if a.SPF == "" {
				a.SPF = r.Value
				for _, c := range r.Comments {
					// Gmail: "google.com: best guess record for domain of ...":
					// the domain publishes no SPF; Gmail guessed.
					a.SPFBestGuess = a.SPFBestGuess || strings.Contains(strings.ToLower(c), "best guess record")
				}
			}
		case "arc":
			if a.ARC == "" {
				a.ARC = r.Value
			}
		case "compauth":
			if a.CompAuth == "" {
				a.CompAuth, a.CompAuthReason = r.Value, r.Reason
			}
		case "dmarc":
			if a.DMARC == "" {
				a.DMARC = r.Value
				a.DMARCPolicy, a.DMARCDisposition = dmarcPolicy(r)
			}
		case "dkim":
			if a.DKIM == "" || r.Value == "pass" {
				a.DKIM = r.Value
			}
			d := dkimDomain(r)
			if r.Value == "none" {
				continue // no signature at all (Microsoft adds header.d=none)
			}
			a.DKIMSignatures = append(a.DKIMSignatures, DKIMSignature{
				Domain: d, Selector: r.Prop("header", "s"), Result: r.Value, Aligned: aligned(d, a.FromDomain),
			})
		}
	}
}

// dmarcPolicy reads the published policy and the disposition of a DMARC
// result, from wherever receivers put them: properties
// (policy.published-domain-policy, policy.applied-disposition, Microsoft's
// bare action=) or the comment (Gmail's and Yahoo's "p=REJECT sp=NONE
// dis=NONE", OpenDMARC's "p=reject dis=none", Rspamd's "policy=reject").
func dmarcPolicy(r Result) (policy, disposition string) {
	defer func() {
		// Only a policy is a policy: Rspamd writes "(policy=temperror)".
		if !slices.Contains([]string{"none", "quarantine", "reject"}, policy) {
			policy = ""
		}
	}()
	policy = r.Prop("policy", "published-domain-policy")
	if policy == "" {
		policy = r.Prop("policy", "dmarc") // Mailman 3's authheaders
	}
	disposition = r.Prop("policy", "applied-disposition")
	if disposition == "" {
		if action := strings.ToLower(r.Prop("", "action")); action != "" {
			policy, disposition = microsoftAction(action)
		}
	}
	for _, c := range r.Comments {
		for _, kv := range strings.FieldsFunc(c, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			switch strings.ToLower(k) {
			case "p", "policy":
				if policy == "" {
					policy = v
				}
			case "dis":
				if disposition == "" {
					disposition = v
				}
			}
		}
	}
	return strings.ToLower(policy), strings.ToLower(disposition)
}

// microsoftAction reads Microsoft's DMARC action= (a bare property of its
// id-less field) as the policy the domain published and what was done:
// "oreject" and "oquarantine" mean the policy was overridden and the message
// went to Junk; "pct.reject" and "pct.quarantine" mean the domain's pct= let
// the message through untouched.
func microsoftAction(action string) (policy, disposition string) {
	switch action {
	case "none":
		return "", "none"
	case "quarantine", "reject":
		return action, action
	case "oreject", "oquarantine":
		return strings.TrimPrefix(action, "o"), "quarantine"
	case "pct.reject", "pct.quarantine":
		return strings.TrimPrefix(action, "pct."), "none"
	}
	return "", action
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

// fromDomain returns the lower-case domain of a From field value:
// "Name <user@example.com>" or "user@example.com", "" when there is no address.
func fromDomain(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	} else if lt := strings.LastIndexByte(from, '<'); lt >= 0 {
		from = strings.TrimSuffix(from[lt+1:], ">")
	}
	at := strings.LastIndexByte(from, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(from[at+1:]), ">."))
}

// aligned reports DMARC relaxed alignment: both domains have the same
// organizational domain, found with the Public Suffix List.
func aligned(d, from string) bool {
	if d == "" || from == "" {
		return false
	}
	if strings.EqualFold(d, from) {
		return true
	}
	od, err1 := publicsuffix.EffectiveTLDPlusOne(d)
	of, err2 := publicsuffix.EffectiveTLDPlusOne(from)
	return err1 == nil && err2 == nil && od == of
}

// trustsID reports whether id is among the trusted ids, compared without
// regard to case. An entry "*.example.net" trusts every id under
// example.net (not example.net itself): receivers such as Yahoo's name the
// host that received, which changes from message to message.
func trustsID(trusted []string, id string) bool {
	for _, t := range trusted {
		if suffix, ok := strings.CutPrefix(t, "*."); ok {
			if len(id) > len(suffix)+1 && strings.HasSuffix(strings.ToLower(id), "."+strings.ToLower(suffix)) {
				return true
			}
		} else if strings.EqualFold(t, id) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
