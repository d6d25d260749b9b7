package lab

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
)

// records is the lab's own DNS: TXT records by lower-case name.
type records map[string][]string

// publish builds the sender domain's records: its DKIM key, an SPF policy that
// allows loopback, and a DMARC policy of reject.
func publish(senderDomain, selector string, key *rsa.PrivateKey) (records, error) {
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return records{
		selector + "._domainkey." + senderDomain: {"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)},
		senderDomain:                             {"v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"},
		"_dmarc." + senderDomain:                 {"v=DMARC1; p=reject; adkim=r; aspf=r"},
	}, nil
}

// LookupTXT answers TXT queries from the lab's records, the resolver its DKIM
// and DMARC checks use. Unknown names give a not-found error, as DNS would.
func (l *Lab) LookupTXT(domain string) ([]string, error) {
	if txt, ok := l.records[strings.ToLower(strings.TrimSuffix(domain, "."))]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: domain, IsNotFound: true}
}

// checkSPF evaluates the SPF record of domain for ip (RFC 7208, the subset the
// lab publishes: ip4, ip6 and all mechanisms with their qualifiers).
func (l *Lab) checkSPF(domain string, ip net.IP) string {
	txts, err := l.LookupTXT(domain)
	if err != nil {
		return "none"
	}
	var record string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=spf1 ") {
			record = t
		}
	}
	if record == "" {
		return "none"
	}
	for _, term := range strings.Fields(record)[1:] {
		qual := "pass"
		switch term[0] {
		case '-':
			qual, term = "fail", term[1:]
		case '~':
			qual, term = "softfail", term[1:]
		case '?':
			qual, term = "neutral", term[1:]
		case '+':
			term = term[1:]
		}
		mech, arg, _ := strings.Cut(term, ":")
		switch mech {
		case "all":
			return qual
		case "ip4", "ip6":
			if !strings.Contains(arg, "/") {
				arg += map[string]string{"ip4": "/32", "ip6": "/128"}[mech]
			}
			_, n, err := net.ParseCIDR(arg)
			if err != nil {
				return "permerror"
			}
			if n.Contains(ip) {
				return qual
			}
		default:
			return "permerror"
		}
	}
	return "neutral"
}

// orgDomain is the organizational domain for relaxed alignment (RFC 7489
// section 3.2); the lab's names have two labels, so the last two suffice.
func orgDomain(d string) string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(d, ".")), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

func domainOf(addr string) string {
	addr = strings.Trim(addr, "<> ")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

func keyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	return pemBlock("PRIVATE KEY", der), nil
}
