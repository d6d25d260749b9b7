package lab

import (
	"net"
	"testing"
)

func TestEvalSPF(t *testing.T) {
	v4, v6, other := net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(192, 0, 2, 1)
	for _, tc := range []struct {
		record string
		ip     net.IP
		want   string
	}{
		{"v=spf1 ip4:127.0.0.0/8 ip6:::1 -all", v4, "pass"},
		{"v=spf1 ip4:127.0.0.0/8 ip6:::1 -all", v6, "pass"},
		{"v=spf1 ip4:127.0.0.0/8 ip6:::1 -all", other, "fail"},
		{"v=spf1 ip4:127.0.0.0/8 ~all", other, "softfail"},
		{"v=spf1 ?all", other, "neutral"},
		{"v=spf1 +all", other, "pass"},
		{"v=spf1 ip4:192.0.2.1", other, "pass"},
		{"v=spf1 -ip4:192.0.2.0/24 +all", other, "fail"},
		{"v=spf1 ip4:127.0.0.1", other, "neutral"},
		{"v=spf1 ip6:::1 -all", v4, "fail"},
		{"v=spf1 ip4:127.0.0.1 -all", net.ParseIP("::ffff:127.0.0.1"), "pass"},
		{"v=spf1 exp=explain.example ip4:127.0.0.1 -all", v4, "pass"},
		{"V=SPF1 IP4:127.0.0.1 -ALL", v4, "pass"},
		{"v=spf1 include:_spf.example -all", v4, "permerror"},
		{"v=spf1 redirect=_spf.example", v4, "permerror"},
		{"v=spf1 ip4:127.0.0.1/33 -all", v4, "permerror"},
		{"v=spf1 ip4:::1 -all", v4, "permerror"},
		{"v=spf1 all:x", v4, "permerror"},
		{"v=spf10 -all", v4, "none"},
	} {
		if got := evalSPF(tc.record, tc.ip); got != tc.want {
			t.Errorf("evalSPF(%q, %s) = %s, want %s", tc.record, tc.ip, got, tc.want)
		}
	}
}

func FuzzEvalSPF(f *testing.F) {
	for _, s := range []string{"v=spf1 ip4:127.0.0.0/8 ip6:::1 -all", "v=spf1 ip4:1.2.3.4/ ~all", "v=spf1 - + ip6:", "v=spf1 a=b =c"} {
		f.Add(s)
	}
	results := map[string]bool{"none": true, "neutral": true, "pass": true, "fail": true, "softfail": true, "permerror": true}
	f.Fuzz(func(t *testing.T, record string) {
		if got := evalSPF(record, net.IPv4(127, 0, 0, 1)); !results[got] {
			t.Errorf("evalSPF(%q) = %q, want an RFC 7208 result", record, got)
		}
	})
}

func TestCheckSPF(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		domain string
		ip     net.IP
		want   string
	}{
		{"mailflow.test", net.IPv4(127, 0, 0, 1), "pass"},
		{"MAILFLOW.TEST.", net.IPv6loopback, "pass"},
		{"mailflow.test", net.IPv4(192, 0, 2, 1), "fail"},
		{"other.example", net.IPv4(127, 0, 0, 1), "none"},
		{"", net.IPv4(127, 0, 0, 1), "none"},
	} {
		if got := l.checkSPF(tc.domain, tc.ip); got != tc.want {
			t.Errorf("checkSPF(%q, %s) = %s, want %s", tc.domain, tc.ip, got, tc.want)
		}
	}
}
