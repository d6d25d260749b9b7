package lab

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

func TestCheckDMARC(t *testing.T) {
	l := newLab(t)
	pass := []dkimResult{{value: "pass", domain: "mailflow.test", selector: "lab"}}
	for _, tc := range []struct {
		name string
		v    verdict
		want string
	}{
		{"aligned SPF", verdict{headerFrom: "mailflow.test", spf: "pass", spfIdentity: "mailflow.test"}, "pass"},
		{"aligned DKIM", verdict{headerFrom: "mailflow.test", spf: "fail", spfIdentity: "mailflow.test", dkim: pass}, "pass"},
		{"relaxed alignment of a subdomain", verdict{headerFrom: "news.mailflow.test", spf: "pass", spfIdentity: "bounces.mailflow.test"}, "pass"},
		{"SPF passed for another domain", verdict{headerFrom: "mailflow.test", spf: "pass", spfIdentity: "other.example"}, "fail"},
		{"DKIM failed", verdict{headerFrom: "mailflow.test", spf: "none", dkim: []dkimResult{{value: "fail", domain: "mailflow.test"}}}, "fail"},
		{"no policy", verdict{headerFrom: "other.example", spf: "pass", spfIdentity: "other.example"}, "none"},
		{"no From", verdict{spf: "pass", spfIdentity: "mailflow.test"}, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.checkDMARC(tc.v); got != tc.want {
				t.Errorf("checkDMARC: got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestCheckDKIM(t *testing.T) {
	l := newLab(t)
	signed := sign(t, l, compose("monitor@mailflow.test", "alice@seeds.mailflow.test", "tok", ""))
	otherSelector := bytes.Replace(signed, []byte("s=lab;"), []byte("s=old;"), 1)
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"signed", signed, "pass mailflow.test lab"},
		{"body changed", bytes.Replace(signed, []byte("delivery check."), []byte("delivery check!"), 1), "fail mailflow.test lab"},
		{"unknown selector", otherSelector, "permerror mailflow.test old"},
		{"unsigned", compose("monitor@mailflow.test", "alice@seeds.mailflow.test", "tok", ""), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range l.checkDKIM(tc.msg) {
				got = append(got, r.value+" "+r.domain+" "+r.selector)
			}
			if strings.Join(got, ", ") != tc.want {
				t.Errorf("checkDKIM: got %q, want %q", strings.Join(got, ", "), tc.want)
			}
		})
	}
}

func TestLookupTXT(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		name, prefix string
	}{
		{"lab._domainkey.mailflow.test", "v=DKIM1; k=rsa; p="},
		{"mailflow.test", "v=spf1 "},
		{"_dmarc.mailflow.test", "v=DMARC1; p=reject"},
	} {
		txt, err := l.LookupTXT(tc.name)
		if err != nil || len(txt) != 1 || !strings.HasPrefix(txt[0], tc.prefix) {
			t.Errorf("LookupTXT(%s) = %q, %v, want one record starting %q", tc.name, txt, err, tc.prefix)
		}
	}
	_, err := l.LookupTXT("nosuch.example")
	if dnsErr, ok := err.(*net.DNSError); !ok || !dnsErr.IsNotFound {
		t.Errorf("LookupTXT(nosuch.example) error = %v, want a not-found *net.DNSError", err)
	}
}
