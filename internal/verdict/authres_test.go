package verdict

import (
	"reflect"
	"testing"
)

func TestAuthenticate(t *testing.T) {
	const (
		receiver = "mx.example.org; spf=fail smtp.mailfrom=x@evil.example; dkim=none; dmarc=fail header.from=bank.example"
		forged   = "mx.evil.example; spf=pass smtp.mailfrom=x@evil.example; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example"
		// A field bearing the receiver's id that came from outside, below the
		// receiver's own (RFC 8601 section 5 says to remove it; not all do).
		injected  = "mx.example.org; spf=pass; dkim=pass header.d=bank.example; dmarc=pass"
		microsoft = "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=example.com; dkim=pass (signature was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100"
		gmail     = "mx.google.com; dkim=pass header.i=@Example.COM header.s=20230601 header.b=abc; spf=pass smtp.mailfrom=x@example.com; dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com"
	)
	type summary struct {
		ID, SPF, DKIM, DMARC string
		Domains              []string
		Trusted              []bool // of each header, in order
	}
	for _, tc := range []struct {
		name    string
		values  []string
		trusted []string
		want    summary
	}{
		{
			name:    "forged header above the trusted one is kept but not used",
			values:  []string{forged, receiver},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", SPF: "fail", DKIM: "none", DMARC: "fail", Trusted: []bool{false, true}},
		},
		{
			name:    "the topmost trusted header wins",
			values:  []string{receiver, injected},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", SPF: "fail", DKIM: "none", DMARC: "fail", Trusted: []bool{true, true}},
		},
		{
			name:    "ids compare without regard to case",
			values:  []string{"MX.Google.COM; spf=pass", gmail},
			trusted: []string{"mx.GOOGLE.com"},
			want:    summary{ID: "mx.google.com", SPF: "pass", Trusted: []bool{true, true}},
		},
		{
			name:    "gmail: dkim domain from header.i",
			values:  []string{gmail},
			trusted: []string{"mx.google.com"},
			want:    summary{ID: "mx.google.com", SPF: "pass", DKIM: "pass", DMARC: "pass", Domains: []string{"example.com"}, Trusted: []bool{true}},
		},
		{
			name:    "no trusted header",
			values:  []string{forged},
			trusted: []string{"mx.example.org"},
			want:    summary{Trusted: []bool{false}},
		},
		{
			name:    "nothing trusted at all",
			values:  []string{receiver},
			trusted: nil,
			want:    summary{Trusted: []bool{false}},
		},
		{
			name:    "a header without authserv-id is never trusted by id",
			values:  []string{microsoft},
			trusted: []string{"mx.microsoft.com", ""},
			want:    summary{Trusted: []bool{false}},
		},
		{
			name:    "dkim passes when any signature passes",
			values:  []string{"mx.example.org; dkim=fail header.d=esp.example; dkim=pass header.d=Example.com; dkim=neutral header.i=@third.example; dkim=permerror"},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", DKIM: "pass", Domains: []string{"esp.example", "example.com", "third.example"}, Trusted: []bool{true}},
		},
		{
			name:    "dkim is the first result when none passes",
			values:  []string{"mx.example.org; dkim=neutral header.d=a.example; dkim=fail header.d=b.example"},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", DKIM: "neutral", Domains: []string{"a.example", "b.example"}, Trusted: []bool{true}},
		},
		{
			name:    "first spf and dmarc count",
			values:  []string{"mx.example.org; spf=softfail; spf=pass; dmarc=fail; dmarc=pass"},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", SPF: "softfail", DMARC: "fail", Trusted: []bool{true}},
		},
		{
			name:    "a trusted header with a broken element still counts",
			values:  []string{"mx.example.org; spf=pass; dkim=; dmarc=pass (unclosed"},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", SPF: "pass", DMARC: "pass", Trusted: []bool{true}},
		},
		{
			name:    "no headers",
			values:  nil,
			trusted: []string{"mx.example.org"},
			want:    summary{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Authenticate(tc.values, tc.trusted)
			got := summary{ID: a.AuthservID, SPF: a.SPF, DKIM: a.DKIM, DMARC: a.DMARC, Domains: a.DKIMDomains}
			for _, h := range a.Headers {
				got.Trusted = append(got.Trusted, h.Trusted)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Authenticate(%q, %q)\n got %+v\nwant %+v", tc.values, tc.trusted, got, tc.want)
			}
			for i, h := range a.Headers {
				if want := unfold(tc.values[i]); h.Raw != want {
					t.Errorf("Headers[%d].Raw = %q, want %q (kept in order)", i, h.Raw, want)
				}
			}
		})
	}
}
