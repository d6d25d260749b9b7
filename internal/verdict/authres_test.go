package verdict

import (
	"reflect"
	"strings"
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
		msTop   bool // Trust.TopmostWithoutID
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
			name:    "ids compare without regard to case; trusted fields on top are read as one",
			values:  []string{"MX.Google.COM; spf=fail", gmail},
			trusted: []string{"mx.GOOGLE.com"},
			want: summary{ID: "mx.google.com", SPF: "fail", DKIM: "pass", DMARC: "pass", Domains: []string{"example.com"},
				Trusted: []bool{true, true}},
		},
		{
			name:    "a trusted field below an untrusted one is not merged",
			values:  []string{"mx.example.org; spf=pass", forged, "mx.example.org; dkim=pass header.d=bank.example"},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", SPF: "pass", Trusted: []bool{true, false, true}},
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
			name:   "microsoft: the topmost header without id, when the provider says so",
			values: []string{microsoft, forged},
			msTop:  true,
			want:   summary{SPF: "pass", DKIM: "pass", DMARC: "pass", Domains: []string{"example.com"}, Trusted: []bool{true, false}},
		},
		{
			name:   "microsoft: a header without id below the topmost is the sender's",
			values: []string{receiver, microsoft},
			msTop:  true,
			want:   summary{Trusted: []bool{false, false}},
		},
		{
			name:    "dkim passes when any signature passes",
			values:  []string{"mx.example.org; dkim=fail header.d=esp.example; dkim=pass header.d=Example.com; dkim=neutral header.i=@third.example; dkim=permerror"},
			trusted: []string{"mx.example.org"},
			want:    summary{ID: "mx.example.org", DKIM: "pass", Domains: []string{"esp.example", "example.com", "third.example", ""}, Trusted: []bool{true}},
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
			a := Authenticate(arFields(tc.values...), Trust{IDs: tc.trusted, TopmostWithoutID: tc.msTop})
			got := summary{ID: a.AuthservID, SPF: a.SPF, DKIM: a.DKIM, DMARC: a.DMARC}
			for _, d := range a.DKIMSignatures {
				got.Domains = append(got.Domains, d.Domain)
			}
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

// arFields makes a header of Authentication-Results fields with these values.
func arFields(values ...string) Fields {
	var fs Fields
	for _, v := range values {
		fs = append(fs, Field{Name: "Authentication-Results", Value: v})
	}
	return fs
}

func TestAuthenticateDetails(t *testing.T) {
	header := "ARC-Seal: i=2; a=rsa-sha256; t=1700000000; cv=pass; d=list.example; s=arc; b=abc\n" +
		"ARC-Authentication-Results: i=2; mx.list.example; dkim=pass header.d=example.com\n" +
		"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=fwd.example; s=arc; b=def\n" +
		"ARC-Authentication-Results: i=1; mx.fwd.example;\n spf=pass smtp.mailfrom=example.com\n" +
		"Authentication-Results: mx.google.com;\n" +
		"       dkim=pass header.i=@news.example.com header.s=s1 header.b=Kq3x;\n" +
		"       dkim=fail header.d=esp.example header.s=esp;\n" +
		"       arc=pass (i=2 spf=pass dkim=pass dmarc=pass fromdomain=example.com);\n" +
		"       spf=pass smtp.mailfrom=bounce@example.com;\n" +
		"       dmarc=pass (p=REJECT sp=NONE dis=NONE) header.from=example.com\n" +
		"From: \"Example News\" <news@Example.com>\n"
	fs, errs := ReadFields([]byte(header))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a := Authenticate(fs, Trust{IDs: []string{"mx.google.com"}})
	if a.FromDomain != "example.com" || a.ARC != "pass" || a.DMARCPolicy != "reject" || a.DMARCDisposition != "none" {
		t.Errorf("from %q arc %q dmarc policy %q disposition %q, want example.com pass reject none",
			a.FromDomain, a.ARC, a.DMARCPolicy, a.DMARCDisposition)
	}
	want := []DKIMSignature{
		{Domain: "news.example.com", Selector: "s1", Result: "pass", Aligned: true},
		{Domain: "esp.example", Selector: "esp", Result: "fail", Aligned: false},
	}
	if !reflect.DeepEqual(a.DKIMSignatures, want) {
		t.Errorf("signatures = %+v, want %+v", a.DKIMSignatures, want)
	}
	if a.ARCChain != 2 || a.ARCChainValidation != "pass" || len(a.ARCResults) != 2 {
		t.Fatalf("arc chain %d cv %q results %d, want 2 pass 2", a.ARCChain, a.ARCChainValidation, len(a.ARCResults))
	}
	if r := a.ARCResults[1]; r.Instance != 1 || r.AuthservID != "mx.fwd.example" || r.Trusted || len(r.Results) != 1 || r.Err != "" {
		t.Errorf("ARC-Authentication-Results i=1 = %+v", r)
	}
	ms := Authenticate(arFields("spf=pass smtp.mailfrom=example.com; dmarc=pass action=oreject header.from=example.com; compauth=pass reason=100"),
		Trust{TopmostWithoutID: true})
	// oreject: the domain publishes reject, Microsoft overrode it and filed to Junk.
	if ms.CompAuth != "pass" || ms.CompAuthReason != "100" || ms.DMARCPolicy != "reject" || ms.DMARCDisposition != "quarantine" {
		t.Errorf("compauth %q reason %q policy %q disposition %q, want pass 100 reject quarantine",
			ms.CompAuth, ms.CompAuthReason, ms.DMARCPolicy, ms.DMARCDisposition)
	}
	if a.ARCErr != "no ARC-Message-Signature for i=1,2" && !strings.Contains(a.ARCErr, "no ARC-Message-Signature for i=1,2") {
		t.Errorf("ARCErr = %q, want the missing message signatures named", a.ARCErr)
	}
	if got := arcStructure([]int{1, 5, 6}, []int{1, 5, 6}, []int{1, 5, 6, 6}); !strings.Contains(got, "no ARC-Seal for i=2,3,4") ||
		!strings.Contains(got, "more than one ARC-Authentication-Results for i=6") {
		t.Errorf("arcStructure of a chain with gaps = %q", got)
	}
	if got := arcStructure([]int{1, 2}, []int{2, 1}, []int{1, 2}); got != "" {
		t.Errorf("arcStructure of a sound chain = %q, want none", got)
	}
	if bad := ParseARCAuthResults("i=x; mx.example; spf=pass"); bad.Instance != 0 || bad.Err == "" {
		t.Errorf("bad instance: %+v, want an error", bad)
	}
}

func TestTrustsID(t *testing.T) {
	trusted := []string{"mx.google.com", "*.mail.yahoo.com"}
	for id, want := range map[string]bool{
		"MX.google.com": true, "atlas-production.v2-mail-prod1-gq1.omega.mail.yahoo.com": true,
		"mta4001.mail.gq1.yahoo.com": false, "mail.yahoo.com": false, "evilmail.yahoo.com": false, "x.mail.yahoo.com.evil.example": false,
	} {
		if got := trustsID(trusted, id); got != want {
			t.Errorf("trustsID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestAligned(t *testing.T) {
	for _, tc := range []struct {
		d, from string
		want    bool
	}{
		{"example.com", "example.com", true},
		{"mail.example.com", "example.com", true},
		{"a.example.com", "b.example.com", true},
		{"example.co.uk", "news.example.co.uk", true},
		{"co.uk", "example.co.uk", false},
		{"esp.example.net", "example.com", false},
		{"", "example.com", false},
	} {
		if got := aligned(tc.d, tc.from); got != tc.want {
			t.Errorf("aligned(%q, %q) = %v, want %v", tc.d, tc.from, got, tc.want)
		}
	}
}
