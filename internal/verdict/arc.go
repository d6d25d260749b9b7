package verdict

import (
	"strconv"
	"strings"
)

// ParseARCAuthResults parses one ARC-Authentication-Results value (RFC 8617
// section 4.1.1): "i=N;" and then an Authentication-Results value. Problems
// are in the result's Err, as with ParseAuthResults.
func ParseARCAuthResults(value string) AuthResults {
	v := unfold(value)
	inst, rest, err := arcInstance(v)
	ar, _ := ParseAuthResults(rest)
	ar.Raw, ar.Field, ar.Instance = v, "ARC-Authentication-Results", inst
	if err != "" {
		ar.Err = strings.TrimPrefix(err+"; "+ar.Err, "; ")
		ar.Err = strings.TrimSuffix(ar.Err, "; ")
	}
	return ar
}

// arcInstance reads the leading "i=N;" of an ARC field and returns N and the
// rest. N is 0 when it is missing or not in 1..50 (RFC 8617 section 4.2.1).
func arcInstance(v string) (n int, rest, err string) {
	s := strings.TrimLeft(v, " \t")
	k, after, ok := strings.Cut(s, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), "i") {
		return 0, v, "missing the instance tag i="
	}
	num, rest, _ := strings.Cut(after, ";")
	n, e := strconv.Atoi(strings.TrimSpace(num))
	if e != nil || n < 1 || n > 50 {
		return 0, rest, "instance " + strconv.Quote(clip(strings.TrimSpace(num))) + " is not 1 to 50"
	}
	return n, rest, ""
}

// arcSeal returns the instance and the chain validation (cv=) of an ARC-Seal
// value (RFC 8617 section 4.1.3), 0 and "" where unreadable. Signatures are not
// checked: the receiver's arc= result says what it found.
func arcSeal(v string) (instance int, cv string) {
	for _, tag := range strings.Split(unfold(v), ";") {
		k, val, ok := strings.Cut(tag, "=")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "i":
			if n, err := strconv.Atoi(val); err == nil && n >= 1 && n <= 50 {
				instance = n
			}
		case "cv":
			cv = strings.ToLower(val)
		}
	}
	return instance, cv
}
