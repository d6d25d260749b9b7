package verdict

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "authres", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\n")
}

// brief renders results as "method=value prop=value..." for compact comparison.
func brief(rs []Result) []string {
	var out []string
	for _, r := range rs {
		s := r.Method
		if r.Version != "" {
			s += "/" + r.Version
		}
		s += "=" + r.Value
		if r.Reason != "" {
			s += " reason=" + r.Reason
		}
		for _, p := range r.Props {
			if p.Type != "" {
				s += " " + p.Type + "." + p.Name + "=" + p.Value
			} else {
				s += " " + p.Name + "=" + p.Value
			}
		}
		out = append(out, s)
	}
	return out
}

func TestParseAuthResults(t *testing.T) {
	for _, tc := range []struct {
		name, id, version string
		want              []string
		wantErr           bool
	}{
		{name: "gmail", id: "mx.google.com", want: []string{
			"dkim=pass header.i=@example.com header.s=20230601 header.b=Ab/c+D9=",
			"spf=pass smtp.mailfrom=bounce@example.com",
			"dmarc=pass header.from=example.com",
		}},
		{name: "microsoft", id: "", want: []string{
			"spf=pass smtp.mailfrom=example.com",
			"dkim=pass header.d=example.com",
			"dmarc=pass action=none header.from=example.com",
			"compauth=pass reason=100",
		}},
		{name: "rspamd", id: "mx.example.net", want: []string{
			"dkim=pass header.d=mailflow.test header.s=mf1 header.b=JkQ0lFb1",
			"spf=pass smtp.mailfrom=monitor@mailflow.test",
			"dmarc=pass header.from=mailflow.test",
		}},
		{name: "two-dkim", id: "mx.example.org", version: "1", want: []string{
			"dkim=fail reason=signature verification failed header.d=esp.example",
			"dkim=pass header.d=example.com",
			"spf=softfail smtp.mailfrom=example.com",
		}},
		{name: "nested", id: "mx.example.org", want: []string{
			"spf=pass smtp.mailfrom=a@example.org",
			"dkim/1=pass header.d=example.org",
		}},
		{name: "none", id: "mx.example.org", want: nil},
		{name: "case", id: "mx.example.org", want: []string{
			"spf=pass smtp.mailfrom=User@Example.org",
			"dmarc=fail header.from=Example.org",
		}},
		{name: "broken", id: "mx.example.org", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := ParseAuthResults(sample(t, tc.name))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseAuthResults error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if ar.Err == "" {
					t.Error("Err is empty, want the parse problem")
				}
				return
			}
			if ar.AuthservID != tc.id || ar.Version != tc.version {
				t.Errorf("authserv-id %q version %q, want %q %q", ar.AuthservID, ar.Version, tc.id, tc.version)
			}
			if got := brief(ar.Results); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("results\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseFolded(t *testing.T) {
	ar, err := ParseAuthResults("mx.example.org;\r\n\tspf=pass\r\n smtp.mailfrom=a@example.org;;")
	if err != nil {
		t.Fatal(err)
	}
	if got := brief(ar.Results); !reflect.DeepEqual(got, []string{"spf=pass smtp.mailfrom=a@example.org"}) {
		t.Errorf("folded header results = %q", got)
	}
}

func TestAuthenticateTrust(t *testing.T) {
	forged := "mx.example.org; spf=pass smtp.mailfrom=x@evil.example; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example"
	real := "MX.EXAMPLE.ORG; spf=fail smtp.mailfrom=x@evil.example; dkim=none; dmarc=fail header.from=evil.example"
	other := "relay.evil.example; spf=pass; dkim=pass; dmarc=pass"
	// The receiver's header is topmost; a sender's forgery with another id sits
	// below it and must not count.
	a := Authenticate([]string{real, other, forged}, []string{"mx.example.org"})
	if a.AuthservID != "mx.example.org" || a.SPF != "fail" || a.DKIM != "none" || a.DMARC != "fail" {
		t.Errorf("summary = %s spf=%s dkim=%s dmarc=%s, want mx.example.org fail none fail", a.AuthservID, a.SPF, a.DKIM, a.DMARC)
	}
	if len(a.Headers) != 3 || a.Headers[1].Trusted || !a.Headers[0].Trusted {
		t.Errorf("headers trusted = %v %v, want the first trusted and the second not", a.Headers[0].Trusted, a.Headers[1].Trusted)
	}

	none := Authenticate([]string{other}, []string{"mx.example.org"})
	if none.AuthservID != "" || none.SPF != "" || len(none.Headers) != 1 {
		t.Errorf("no trusted header: summary %+v, want empty with the header kept", none)
	}

	two := Authenticate([]string{sample(t, "two-dkim")}, []string{"mx.example.org"})
	if two.DKIM != "pass" || !reflect.DeepEqual(two.DKIMDomains, []string{"esp.example", "example.com"}) {
		t.Errorf("two dkim: dkim=%s domains %v, want pass [esp.example example.com]", two.DKIM, two.DKIMDomains)
	}
}

func TestPlacementOf(t *testing.T) {
	for _, tc := range []struct {
		role   Role
		folder string
		want   Placement
	}{
		{RoleInbox, "INBOX", Inbox},
		{RoleJunk, "[Gmail]/Spam", Spam},
		{RoleOther, "Archive", "other:Archive"},
	} {
		if got := PlacementOf(tc.role, tc.folder); got != tc.want {
			t.Errorf("PlacementOf(%s, %q) = %s, want %s", tc.role, tc.folder, got, tc.want)
		}
	}
	if Tab("Promotions") != "tab:promotions" {
		t.Errorf("Tab(Promotions) = %s, want tab:promotions", Tab("Promotions"))
	}
	if !Spam.Bad() || Inbox.Bad() || !Rejected.Failed() || Rejected.Bad() || Missing.Failed() {
		t.Error("Bad/Failed disagree with their definitions")
	}
}

func FuzzParseAuthResults(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "authres", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, errA := ParseAuthResults(s)
		b, errB := ParseAuthResults(s)
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("ParseAuthResults(%q) is not deterministic", s)
		}
		if (errA == nil) != (a.Err == "") {
			t.Fatalf("ParseAuthResults(%q): error %v but Err %q", s, errA, a.Err)
		}
	})
}

func BenchmarkParseAuthResults(b *testing.B) {
	v := sample(b, "gmail")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthResults(v); err != nil {
			b.Fatal(err)
		}
	}
}
