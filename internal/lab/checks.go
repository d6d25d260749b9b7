package lab

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
)

// gtube is the standard anti-spam test string; a message holding it is spam.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// maxSignatures bounds the DKIM signatures verified per message.
const maxSignatures = 5

// verdict is what the lab's checks found out about one message.
type verdict struct {
	spf         string // RFC 7208 result for spfIdentity
	spfIdentity string // the MAIL FROM domain, or the HELO name for a null sender
	mailFrom    string // the envelope sender, "" for a null sender
	helo        string
	dkim        []dkimResult // one per signature; empty when unsigned
	dmarc       string
	headerFrom  string // the From domain DMARC evaluated
	gtube       bool
}

// dkimResult is the outcome of one DKIM signature.
type dkimResult struct {
	value    string
	domain   string // d=
	selector string // s=
}

// check runs SPF on the envelope sender (or the HELO name for a null sender)
// and the client address, verifies DKIM signatures against the lab's records,
// and evaluates DMARC for the From domain.
func (l *Lab) check(mailFrom, helo string, ip net.IP, msg []byte) verdict {
	v := verdict{mailFrom: mailFrom, helo: helo, spfIdentity: domainOf(mailFrom)}
	if mailFrom == "" { // RFC 7208 section 2.4: a null sender is checked by its HELO name
		v.spfIdentity = strings.ToLower(helo)
	}
	v.spf = l.checkSPF(v.spfIdentity, ip)
	v.dkim = l.checkDKIM(msg)
	v.headerFrom = fromDomain(msg)
	v.dmarc = l.checkDMARC(v)
	v.gtube = bytes.Contains(msg, []byte(gtube))
	return v
}

// checkDKIM verifies every signature of msg (RFC 6376 section 6) and maps each
// outcome to an RFC 8601 result: pass, fail (the signature or body hash does not
// verify), temperror or permerror (the key or the signature is unusable).
func (l *Lab) checkDKIM(msg []byte) []dkimResult {
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg),
		&dkim.VerifyOptions{LookupTXT: l.LookupTXT, MaxVerifications: maxSignatures})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return []dkimResult{{value: "permerror"}}
	}
	tags := signatureTags(msg)
	var out []dkimResult
	for i, ver := range verifs {
		r := dkimResult{value: "pass", domain: ver.Domain}
		switch {
		case ver.Err == nil:
		case dkim.IsTempFail(ver.Err):
			r.value = "temperror"
		case dkim.IsPermFail(ver.Err):
			r.value = "permerror"
		default:
			r.value = "fail"
		}
		if i < len(tags) {
			if r.domain == "" {
				r.domain = tags[i]["d"]
			}
			r.selector = tags[i]["s"]
		}
		out = append(out, r)
	}
	return out
}

// signatureTags returns the tags of each DKIM-Signature field of msg, in the
// order go-msgauth verifies them (top to bottom). go-msgauth does not report a
// signature's selector, which Authentication-Results carries as header.s.
func signatureTags(msg []byte) []map[string]string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		return nil
	}
	var out []map[string]string
	for f := h.FieldsByKey("DKIM-Signature"); f.Next(); {
		tags := map[string]string{}
		for _, t := range strings.Split(f.Value(), ";") {
			k, v, _ := strings.Cut(t, "=")
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
		out = append(out, tags)
	}
	return out
}

// checkDMARC evaluates DMARC (RFC 7489 section 6.6) for the From domain: the
// policy record is looked up at the domain, then at its organizational domain,
// and the message passes when SPF or a DKIM signature passed for a domain
// aligned with the From domain, in the record's mode (relaxed unless the
// record says adkim=s or aspf=s). The lab applies no policy here: what a
// failure costs is the filing rule's business.
func (l *Lab) checkDMARC(v verdict) string {
	if v.headerFrom == "" {
		return "none"
	}
	opts := &dmarc.LookupOptions{LookupTXT: l.LookupTXT}
	rec, err := dmarc.LookupWithOptions(v.headerFrom, opts)
	if org := orgDomain(v.headerFrom); errors.Is(err, dmarc.ErrNoPolicy) && org != v.headerFrom {
		rec, err = dmarc.LookupWithOptions(org, opts)
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		return "none"
	case dmarc.IsTempFail(err):
		return "temperror"
	case err != nil:
		return "permerror"
	}
	if v.spf == spfPass && aligned(v.spfIdentity, v.headerFrom, rec.SPFAlignment) {
		return "pass"
	}
	for _, d := range v.dkim {
		if d.value == "pass" && aligned(d.domain, v.headerFrom, rec.DKIMAlignment) {
			return "pass"
		}
	}
	return "fail"
}

// aligned reports whether an authenticated domain aligns with the From domain
// (RFC 7489 section 3.1).
func aligned(domain, from string, mode dmarc.AlignmentMode) bool {
	domain, from = strings.ToLower(domain), strings.ToLower(from)
	if mode == dmarc.AlignmentStrict {
		return domain != "" && domain == from
	}
	return domain != "" && orgDomain(domain) == orgDomain(from)
}

// orgDomain is the organizational domain for relaxed alignment (RFC 7489
// section 3.2). Without a public suffix list the lab takes the last two
// labels, which is right for every name it serves.
func orgDomain(d string) string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(d, ".")), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

// fromDomain is the domain of the single author in msg's From field, "" when
// there is none or more than one (RFC 7489 section 6.6.1).
func fromDomain(msg []byte) string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		return ""
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	from, err := mh.AddressList("From")
	if err != nil || len(from) != 1 {
		return ""
	}
	return domainOf(from[0].Address)
}

// domainOf is the lower-case domain of an address, "" when it has none.
func domainOf(addr string) string {
	addr = strings.Trim(addr, "<> ")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// authResults formats the lab's Authentication-Results field value (RFC 8601
// section 2.2) with go-msgauth's authres.
func (l *Lab) authResults(v verdict) string {
	spf := &authres.SPFResult{Value: authres.ResultValue(v.spf), From: v.mailFrom}
	if v.mailFrom == "" {
		spf.From, spf.Helo = "", v.helo
	}
	results := []authres.Result{spf}
	if len(v.dkim) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range v.dkim {
		// DKIMResult has no selector; a generic "dkim" result carries header.s
		// and reads back as a DKIMResult through authres.Parse.
		results = append(results, &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(d.value),
			Params: map[string]string{"header.d": d.domain, "header.s": d.selector}})
	}
	results = append(results, &authres.DMARCResult{Value: authres.ResultValue(v.dmarc), From: v.headerFrom})
	return authres.Format(l.Hostname, results)
}
