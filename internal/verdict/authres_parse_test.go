package verdict

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// brief renders results as "method=value reason=... type.name=value ..." so a
// table can state them in one line each.
func brief(rs []Result) []string {
	var out []string
	for _, r := range rs {
		var b strings.Builder
		b.WriteString(r.Method)
		if r.Version != "" {
			b.WriteString("/" + r.Version)
		}
		b.WriteString("=" + r.Value)
		if r.Reason != "" {
			fmt.Fprintf(&b, " reason=%q", r.Reason)
		}
		for _, p := range r.Props {
			b.WriteString(" ")
			if p.Type != "" {
				b.WriteString(p.Type + ".")
			}
			b.WriteString(p.Name + "=" + p.Value)
		}
		out = append(out, b.String())
	}
	return out
}

func TestParseAuthResults(t *testing.T) {
	for _, tc := range []struct {
		name        string
		in          string
		id, version string
		want        []string
		wantErr     string // a part of Err; "" when the value is clean
	}{
		{
			name: "gmail",
			in: "mx.google.com; dkim=pass header.i=@example.com header.s=20230601 header.b=abc; " +
				"spf=pass (google.com: domain of x@example.com designates 1.2.3.4 as permitted sender) smtp.mailfrom=x@example.com; " +
				"dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com",
			id: "mx.google.com",
			want: []string{
				"dkim=pass header.i=@example.com header.s=20230601 header.b=abc",
				"spf=pass smtp.mailfrom=x@example.com",
				"dmarc=pass header.from=example.com",
			},
		},
		{
			name: "microsoft without authserv-id",
			in: "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=example.com; dkim=none (message not signed) " +
				"header.d=none;dmarc=none action=none header.from=example.com;compauth=fail reason=001",
			id: "",
			want: []string{
				"spf=pass smtp.mailfrom=example.com",
				"dkim=none header.d=none",
				"dmarc=none action=none header.from=example.com",
				`compauth=fail reason="001"`,
			},
		},
		{
			name: "microsoft with spaces around '='",
			in:   "spf = pass (sender IP is 192.0.2.10) smtp.mailfrom=example.com",
			want: []string{"spf=pass smtp.mailfrom=example.com"},
		},
		{
			name: "rspamd",
			in: "mx.example.net;\r\n\tdkim=pass header.d=example.com header.s=dkim header.b=\"Jk/Q0+lF\";\r\n" +
				"\tdmarc=pass (policy=reject) header.from=example.com;\r\n" +
				"\tspf=pass (mx.example.net: domain of a@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=a@example.com",
			id: "mx.example.net",
			want: []string{
				"dkim=pass header.d=example.com header.s=dkim header.b=Jk/Q0+lF",
				"dmarc=pass header.from=example.com",
				"spf=pass smtp.mailfrom=a@example.com",
			},
		},
		{
			name: "two dkim results",
			in:   "mx.example.org; dkim=fail header.d=esp.example header.s=s1; dkim=pass header.d=example.com header.s=k2",
			id:   "mx.example.org",
			want: []string{"dkim=fail header.d=esp.example header.s=s1", "dkim=pass header.d=example.com header.s=k2"},
		},
		{
			name: "nested comments holding ';' and '='",
			in:   "mx.example.org (relay (inner; with=equals) here); spf=pass (a; b=c (d; e=f)) smtp.mailfrom=a@example.org (g;h)",
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org"},
		},
		{
			name: "quoted pair in a comment",
			in:   `mx.example.org; spf=pass (a \) still; in=comment) smtp.mailfrom=a@example.org`,
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org"},
		},
		{
			name: "quoted reason",
			in:   `mx.example.org; dkim=fail reason="bad \"sig\"; (really)" header.d=example.com`,
			id:   "mx.example.org",
			want: []string{`dkim=fail reason="bad \"sig\"; (really)" header.d=example.com`},
		},
		{
			name: "token reason",
			in:   "mx.example.org; dmarc=fail reason=policy header.from=example.com",
			id:   "mx.example.org",
			want: []string{`dmarc=fail reason="policy" header.from=example.com`},
		},
		{name: "none", in: "example.org 1; none", id: "example.org", version: "1"},
		{name: "none with a comment", in: "example.org; none (nothing checked)", id: "example.org"},
		{
			name:    "version between comments",
			in:      "mx.example.org (id) 1 (version); spf=pass smtp.mailfrom=a@example.org",
			id:      "mx.example.org",
			version: "1",
			want:    []string{"spf=pass smtp.mailfrom=a@example.org"},
		},
		{
			name: "an id starting with digits is no version",
			in:   "mx.example.org 2fa.example.net; spf=pass",
			id:   "mx.example.org",
			want: []string{"spf=pass"}, wantErr: `expected ';', found "2fa.example.net"`,
		},
		{
			name: "method version",
			in:   "mx.example.org; dkim/1=pass header.d=example.com; spf / 2 = fail",
			id:   "mx.example.org",
			want: []string{"dkim/1=pass header.d=example.com", "spf/2=fail"},
		},
		{
			name: "folded lines",
			in:   "mx.example.org;\r\n\tspf=pass\r\n smtp.mailfrom=a@example.org;\r\n dkim=none",
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org", "dkim=none"},
		},
		{
			name: "no whitespace",
			in:   "mx.example.org;spf=pass smtp.mailfrom=a@example.org;dkim=pass header.d=example.org",
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org", "dkim=pass header.d=example.org"},
		},
		{
			name: "extra whitespace",
			in:   "   mx.example.org  ;   spf  =  pass   smtp . mailfrom  =  a@example.org   ;   ",
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org"},
		},
		{name: "trailing semicolons", in: "mx.example.org; spf=pass;; ;", id: "mx.example.org", want: []string{"spf=pass"}},
		{name: "no results", in: "mx.example.org", id: "mx.example.org"},
		{name: "no results after ';'", in: "mx.example.org;", id: "mx.example.org"},
		{
			name: "keywords in upper case",
			in:   "MX.Example.ORG; SPF=PASS SMTP.MailFrom=User@Example.org; DMARC=Fail (p=REJECT) Header.From=Example.org",
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=User@Example.org", "dmarc=fail header.from=Example.org"},
		},
		{
			name: "quoted value holding ';' and spaces",
			in:   `mx.example.org; dkim=pass header.b="ab cd;ef" header.s=s1`,
			id:   "mx.example.org",
			want: []string{"dkim=pass header.b=ab cd;ef header.s=s1"},
		},
		{
			name: "quoted local-part",
			in:   `mx.example.org; spf=pass smtp.mailfrom="first last"@example.org`,
			id:   "mx.example.org",
			want: []string{`spf=pass smtp.mailfrom="first last"@example.org`},
		},
		{
			name: "comment right after the result",
			in:   "atlas-1.mail.example.net; dmarc=pass(p=REJECT) header.from=example.com;",
			id:   "atlas-1.mail.example.net",
			want: []string{"dmarc=pass header.from=example.com"},
		},
		{
			name: "iprev and auth",
			in:   "mx.example.org; iprev=pass policy.iprev=192.0.2.5 (client.example.net); auth=pass (plain) smtp.auth=user@example.org",
			id:   "mx.example.org",
			want: []string{"iprev=pass policy.iprev=192.0.2.5", "auth=pass smtp.auth=user@example.org"},
		},
		{
			name: "quoted authserv-id",
			in:   `"mx.example.org"; spf=pass`,
			id:   "mx.example.org",
			want: []string{"spf=pass"},
		},
		// Malformed values: Err says what is wrong, what could be read is kept.
		{name: "empty", in: "", wantErr: "empty value"},
		{name: "only a comment", in: " (nothing) ", wantErr: "empty value"},
		{
			name: "missing authserv-id",
			in:   "; spf=pass smtp.mailfrom=a@example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org"}, wantErr: "missing authserv-id",
		},
		{
			name: "missing ';' after the id",
			in:   "mx.example.org spf=pass smtp.mailfrom=a@example.org",
			id:   "mx.example.org",
			want: []string{"spf=pass smtp.mailfrom=a@example.org"}, wantErr: `missing ';' before "spf=pass"`,
		},
		{
			name: "unclosed comment",
			in:   `mx.example.org; spf=pass; dkim=fail (unclosed; dmarc=pass header.from="x"`,
			id:   "mx.example.org",
			want: []string{"spf=pass", "dkim=fail"}, wantErr: "unclosed comment",
		},
		{
			name: "unclosed quoted string",
			in:   `mx.example.org; spf=pass; dkim=pass header.b="open; dmarc=pass`,
			id:   "mx.example.org",
			want: []string{"spf=pass", "dkim=pass header.b=open; dmarc=pass"}, wantErr: "unclosed quoted string",
		},
		{
			name: "bad elements between good ones",
			in:   "mx.example.org; =fail; spf=pass; dkim=; dmarc pass; arc=pass header.; iprev=pass policy.iprev=",
			id:   "mx.example.org",
			want: []string{"spf=pass", "arc=pass", "iprev=pass policy.iprev="},
			wantErr: `offset 16: expected a method, found "=fail"; offset 33: method "dkim" has an empty result; ` +
				`offset 40: method "dmarc" has no result; offset 61: arc: expected ptype.property=value, found "header."; ` +
				`offset 81: iprev: policy.iprev has no value`,
		},
		{
			name: "a word that is no property",
			in:   "mx.example.org; spf=pass garbage; dkim=pass",
			id:   "mx.example.org",
			want: []string{"spf=pass", "dkim=pass"}, wantErr: `spf: expected ptype.property=value, found "garbage"`,
		},
		{
			name:    "many problems in one line",
			in:      "mx.example.org" + strings.Repeat("; =", 40),
			id:      "mx.example.org",
			wantErr: "and 35 more problems",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := ParseAuthResults(tc.in)
			if ar.AuthservID != tc.id || ar.Version != tc.version {
				t.Errorf("ParseAuthResults(%q) id %q version %q, want %q %q", tc.in, ar.AuthservID, ar.Version, tc.id, tc.version)
			}
			if got := brief(ar.Results); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseAuthResults(%q) results\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if tc.wantErr == "" {
				if err != nil || ar.Err != "" {
					t.Errorf("ParseAuthResults(%q) error %v, Err %q, want none", tc.in, err, ar.Err)
				}
			} else if err == nil || !strings.Contains(ar.Err, tc.wantErr) || !strings.Contains(err.Error(), ar.Err) {
				t.Errorf("ParseAuthResults(%q) error %v, Err %q, want Err containing %q", tc.in, err, ar.Err, tc.wantErr)
			}
			if want := unfold(tc.in); ar.Raw != want {
				t.Errorf("ParseAuthResults(%q) Raw %q, want %q", tc.in, ar.Raw, want)
			}
		})
	}
}

// TestParseAuthResultsErrBounded: Err quotes the input, but only a little of
// it, however long the garbage.
func TestParseAuthResultsErrBounded(t *testing.T) {
	long := strings.Repeat("a", 5000)
	for _, in := range []string{
		"mx.example.org; " + long,
		"mx.example.org; " + long + "=",
		"mx.example.org; spf=pass " + long,
		"mx.example.org; spf=pass " + long + "=",
		"mx.example.org; spf=pass x." + long + "=",
		"mx.example.org " + long + ";",
		strings.Repeat("; =", 2000),
	} {
		ar, err := ParseAuthResults(in)
		if err == nil || len(ar.Err) > 400 {
			t.Errorf("ParseAuthResults(%.40q...) Err is %d bytes (%v), want an error under 400 bytes", in, len(ar.Err), err)
		}
	}
}

// TestParseAuthResultsSamples keeps the fuzz seeds honest: each sample parses
// cleanly, except those named malformed-*.
func TestParseAuthResultsSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "authres", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata/authres: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ar, err := ParseAuthResults(strings.TrimSuffix(string(b), "\n"))
			switch {
			case strings.HasPrefix(name, "malformed-"):
				if err == nil {
					t.Errorf("%s: no error, want one", file)
				}
			case err != nil:
				t.Errorf("%s: %v", file, err)
			case len(ar.Results) == 0 && name != "none":
				t.Errorf("%s: no results", file)
			}
		})
	}
}

func TestResultProp(t *testing.T) {
	ar, err := ParseAuthResults("mx.example.org; dmarc=pass action=none Header.From=example.com policy.dmarc=reject")
	if err != nil || len(ar.Results) != 1 {
		t.Fatalf("ParseAuthResults: %v, %d results, want 1", err, len(ar.Results))
	}
	r := ar.Results[0]
	for _, tc := range []struct{ typ, name, want string }{
		{"header", "from", "example.com"},
		{"HEADER", "From", "example.com"},
		{"policy", "dmarc", "reject"},
		{"", "action", "none"},
		{"header", "d", ""},
		{"", "from", ""},
	} {
		if got := r.Prop(tc.typ, tc.name); got != tc.want {
			t.Errorf("Prop(%q, %q) = %q, want %q", tc.typ, tc.name, got, tc.want)
		}
	}
}

func BenchmarkParseAuthResults(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "authres", "fastmail.txt"))
	if err != nil {
		b.Fatal(err)
	}
	v := string(raw)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthResults(v); err != nil {
			b.Fatal(err)
		}
	}
}
