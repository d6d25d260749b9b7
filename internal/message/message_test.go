package message

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidToken(tok) {
			t.Fatalf("NewToken() = %q, not 32 lower-case hex digits", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken() repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestValidToken(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", false},
		{"0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789abcdeg", false},
		{"", false},
	} {
		if got := ValidToken(tc.in); got != tc.want {
			t.Errorf("ValidToken(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func testProbe() Probe {
	return Probe{
		Token: "00112233445566778899aabbccddeeff", From: "Mail Monitor <monitor@mailflow.test>",
		To: "alice@seeds.mailflow.test", Date: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		Subject: "delivery check", Check: "default", Path: "submission", Seed: "alice",
	}
}

func TestBuild(t *testing.T) {
	raw, err := Build(testProbe())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("Build: found a bare LF; want CRLF line ends only")
	}
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := mr.Header
	for _, tc := range []struct{ key, want string }{
		{Header, "00112233445566778899aabbccddeeff"},
		{"Message-Id", "<mailflow.00112233445566778899aabbccddeeff@mailflow.test>"},
		{"Subject", "delivery check 00112233"},
		{"Date", "Mon, 23 Nov 2026 08:00:00 +0000"},
		{"Auto-Submitted", "auto-generated"},
	} {
		if got := h.Get(tc.key); got != tc.want {
			t.Errorf("header %s = %q, want %q", tc.key, got, tc.want)
		}
	}
	if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Address != "monitor@mailflow.test" {
		t.Errorf("From = %v, want monitor@mailflow.test", from)
	}
	var types []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		ct, _, _ := p.Header.(*mail.InlineHeader).ContentType()
		types = append(types, ct)
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts = %v, want text/plain and text/html", types)
	}
}

func TestBuildRejects(t *testing.T) {
	for name, mod := range map[string]func(*Probe){
		"bad token": func(p *Probe) { p.Token = "xyz" },
		"bad from":  func(p *Probe) { p.From = "not an address" },
		"bad to":    func(p *Probe) { p.To = "" },
	} {
		t.Run(name, func(t *testing.T) {
			p := testProbe()
			mod(&p)
			if _, err := Build(p); err == nil {
				t.Errorf("Build(%s) succeeded, want an error", name)
			}
		})
	}
}

func TestSignVerifies(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Build(testProbe())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(raw, DKIMKey{Domain: "mailflow.test", Selector: "s1", Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	lookup := func(domain string) ([]string, error) {
		if domain != "s1._domainkey.mailflow.test" {
			t.Errorf("lookup %q, want s1._domainkey.mailflow.test", domain)
		}
		return []string{record}, nil
	}
	verify := func(msg []byte) error {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil {
			return err
		}
		if len(vs) != 1 {
			t.Fatalf("got %d signatures, want 1", len(vs))
		}
		return vs[0].Err
	}
	if err := verify(signed); err != nil {
		t.Errorf("signed probe does not verify: %v", err)
	}
	tampered := bytes.Replace(signed, []byte("00112233445566778899aabbccddeeff"), []byte("ffffffff445566778899aabbccddeeff"), 1)
	if err := verify(tampered); err == nil {
		t.Error("probe with a changed token still verifies, want a failure")
	}
}
