package message

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMKey signs probes for a domain.
type DKIMKey struct {
	Domain   string
	Selector string
	Signer   crypto.Signer
}

// ParseDKIMKey reads an RSA or Ed25519 private key in PEM, PKCS#1 or PKCS#8
// (RFC 6376 section 3.3, RFC 8463). Its errors say what is wrong without
// quoting the key or the parser's view of its bytes, since they reach logs and
// config problems.
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	switch {
	case block == nil:
		return nil, errors.New("holds no PEM block")
	case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
		return nil, errors.New("the key is encrypted (store it without a passphrase and protect the file instead)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the %s block is not a PKCS#1 or PKCS#8 private key", block.Type)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("a %T key cannot sign DKIM", k)
}

// signedHeaders are the fields a probe signature covers: the ones a receiver
// shows and the token, so a changed probe fails DKIM.
var signedHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", Header, "MIME-Version", "Content-Type"}

// Sign returns msg with a DKIM-Signature header prepended (RFC 6376).
func Sign(msg []byte, key DKIMKey) ([]byte, error) {
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain:                 key.Domain,
		Selector:               key.Selector,
		Signer:                 key.Signer,
		HeaderKeys:             signedHeaders,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim sign d=%s s=%s: %w", key.Domain, key.Selector, err)
	}
	return out.Bytes(), nil
}
