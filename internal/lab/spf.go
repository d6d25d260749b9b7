package lab

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// SPF results (RFC 7208 section 2.6), as Authentication-Results writes them.
const (
	spfNone      = "none"
	spfNeutral   = "neutral"
	spfPass      = "pass"
	spfFail      = "fail"
	spfSoftfail  = "softfail"
	spfTemperror = "temperror"
	spfPermerror = "permerror"
)

// checkSPF is check_host() of RFC 7208 section 4 for domain and the client ip,
// over the lab's own records. A domain without a record gives none.
func (l *Lab) checkSPF(domain string, ip net.IP) string {
	if domain == "" {
		return spfNone
	}
	txts, err := l.LookupTXT(domain)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return spfNone
	case err != nil:
		return spfTemperror
	}
	var found []string
	for _, t := range txts {
		if v, _, _ := strings.Cut(t, " "); strings.EqualFold(v, "v=spf1") {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return spfNone
	case 1:
		return evalSPF(found[0], ip)
	default:
		return spfPermerror // RFC 7208 section 4.5: more than one record
	}
}

// evalSPF evaluates one "v=spf1" record for ip. It knows the mechanisms the lab
// publishes — ip4, ip6 and all, each with a +, -, ~ or ? qualifier (RFC 7208
// sections 4.6.2 and 5). Mechanisms that need DNS (a, mx, ptr, include,
// exists) and the redirect modifier give permerror; other modifiers are ignored,
// as section 6 asks. No match gives neutral (section 4.7).
func evalSPF(record string, ip net.IP) string {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return spfPermerror
	}
	addr = addr.Unmap()
	terms := strings.Fields(record)
	if len(terms) == 0 || !strings.EqualFold(terms[0], "v=spf1") {
		return spfNone
	}
	for _, term := range terms[1:] {
		result := spfPass
		switch term[0] {
		case '+':
			term = term[1:]
		case '-':
			result, term = spfFail, term[1:]
		case '~':
			result, term = spfSoftfail, term[1:]
		case '?':
			result, term = spfNeutral, term[1:]
		}
		name, arg, hasArg := strings.Cut(term, ":")
		if !hasArg {
			if n, _, isModifier := strings.Cut(term, "="); isModifier {
				if strings.EqualFold(n, "redirect") {
					return spfPermerror
				}
				continue
			}
		}
		switch strings.ToLower(name) {
		case "all":
			if hasArg {
				return spfPermerror
			}
			return result
		case "ip4", "ip6":
			prefix, err := spfNetwork(strings.ToLower(name), arg)
			if err != nil {
				return spfPermerror
			}
			if prefix.Contains(addr) {
				return result
			}
		default:
			return spfPermerror
		}
	}
	return spfNeutral
}

// spfNetwork parses the argument of an ip4 or ip6 mechanism: an address with
// an optional prefix length (RFC 7208 section 5.6).
func spfNetwork(mech, arg string) (netip.Prefix, error) {
	host, bits, hasBits := strings.Cut(arg, "/")
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, err
	}
	if (mech == "ip4") != addr.Is4() {
		return netip.Prefix{}, errors.New(mech + " mechanism with a wrong address family")
	}
	n := addr.BitLen()
	if hasBits {
		if n, err = strconv.Atoi(bits); err != nil || n < 0 || n > addr.BitLen() || bits[0] == '+' {
			return netip.Prefix{}, errors.New("bad prefix length")
		}
	}
	return addr.Prefix(n)
}
