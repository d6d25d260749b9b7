package lab

import (
	"bytes"
	"encoding/pem"
	"net"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
)

// gtube is the standard anti-spam test string; a message holding it is spam.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// verdict is what the lab's checks found out about one message.
type verdict struct {
	spf, dkim, dmarc string
	dkimDomain       string
	fromDomain       string
	spam             bool
}

// check runs SPF on the envelope sender and client address, verifies DKIM
// signatures against the lab's records, and evaluates DMARC for the From domain
// with relaxed alignment.
func (l *Lab) check(mailFrom string, ip net.IP, msg []byte) verdict {
	v := verdict{spf: l.checkSPF(domainOf(mailFrom), ip), dkim: "none", dmarc: "none"}
	sigs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: l.LookupTXT})
	if err != nil {
		v.dkim = "permerror"
	}
	for _, s := range sigs {
		if s.Err == nil {
			v.dkim, v.dkimDomain = "pass", s.Domain
			break
		}
		v.dkim, v.dkimDomain = "fail", s.Domain
		if dkim.IsTempFail(s.Err) {
			v.dkim = "temperror"
		}
	}
	h, err := mail.CreateReader(bytes.NewReader(msg))
	if err == nil {
		if from, err := h.Header.AddressList("From"); err == nil && len(from) == 1 {
			v.fromDomain = domainOf(from[0].Address)
		}
	}
	if v.fromDomain != "" {
		// The lab publishes only p=reject, so a found record is enough: what the
		// policy asks for is the receiver's choice (the lab files into Junk).
		if _, err := dmarc.LookupWithOptions(v.fromDomain, &dmarc.LookupOptions{LookupTXT: l.LookupTXT}); err == nil {
			aligned := (v.spf == "pass" && orgDomain(domainOf(mailFrom)) == orgDomain(v.fromDomain)) ||
				(v.dkim == "pass" && orgDomain(v.dkimDomain) == orgDomain(v.fromDomain))
			v.dmarc = "fail"
			if aligned {
				v.dmarc = "pass"
			}
		}
	}
	v.spam = bytes.Contains(msg, []byte(gtube)) || v.dmarc == "fail"
	return v
}

// authResults formats the lab's Authentication-Results header value.
func (l *Lab) authResults(v verdict, mailFrom string) string {
	dk := &authres.DKIMResult{Value: authres.ResultValue(v.dkim), Domain: v.dkimDomain}
	return authres.Format(l.Hostname, []authres.Result{
		&authres.SPFResult{Value: authres.ResultValue(v.spf), From: strings.Trim(mailFrom, "<>")},
		dk,
		&authres.DMARCResult{Value: authres.ResultValue(v.dmarc), From: v.fromDomain},
	})
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
