package lab

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
)

// records is the lab's own DNS: TXT records by lower-case name.
type records map[string][]string

// publish builds the sender domain's records: its DKIM key (RFC 6376 section
// 3.6.1), an SPF policy that allows loopback only (RFC 7208) and a DMARC policy
// of reject (RFC 7489).
func publish(senderDomain, selector string, key *rsa.PrivateKey) (records, error) {
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("dkim public key: %w", err)
	}
	return records{
		selector + "._domainkey." + senderDomain: {"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)},
		senderDomain:                             {"v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"},
		"_dmarc." + senderDomain:                 {"v=DMARC1; p=reject"},
	}, nil
}

// LookupTXT answers TXT queries from the lab's records: the DKIM key, SPF and
// DMARC records of SenderDomain. It is the resolver of the lab's own checks and
// fits dkim.VerifyOptions.LookupTXT and dmarc.LookupOptions.LookupTXT. Unknown
// names give a *net.DNSError with IsNotFound set, as NXDOMAIN would.
func (l *Lab) LookupTXT(domain string) ([]string, error) {
	if txt, ok := l.records[strings.ToLower(strings.TrimSuffix(domain, "."))]; ok {
		return append([]string(nil), txt...), nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: domain, IsNotFound: true}
}

// keyPEM encodes key as a PKCS#8 "PRIVATE KEY" PEM block.
func keyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
