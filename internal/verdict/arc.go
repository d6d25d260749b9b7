package verdict

import (
	"fmt"
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

// arcStructure checks the instances of the ARC-Seal, ARC-Message-Signature
// and ARC-Authentication-Results fields (RFC 8617 section 4.2.1) and
// describes what is wrong, "" when nothing is.
func arcStructure(seals, sigs, results []int) string {
	n := 0
	for _, set := range [][]int{seals, sigs, results} {
		for _, i := range set {
			n = max(n, i)
		}
	}
	if len(seals)+len(sigs)+len(results) == 0 {
		return ""
	}
	var problems []string
	for _, f := range []struct {
		name      string
		instances []int
	}{{"ARC-Seal", seals}, {"ARC-Message-Signature", sigs}, {"ARC-Authentication-Results", results}} {
		count := map[int]int{}
		for _, i := range f.instances {
			count[i]++
		}
		if count[0] > 0 {
			problems = append(problems, fmt.Sprintf("%d %s without a readable instance", count[0], f.name))
		}
		var missing, twice []string
		for i := 1; i <= n && i <= 50; i++ {
			switch {
			case count[i] == 0:
				missing = append(missing, strconv.Itoa(i))
			case count[i] > 1:
				twice = append(twice, strconv.Itoa(i))
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("no %s for i=%s", f.name, strings.Join(missing, ",")))
		}
		if len(twice) > 0 {
			problems = append(problems, fmt.Sprintf("more than one %s for i=%s", f.name, strings.Join(twice, ",")))
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return fmt.Sprintf("ARC chain of %d sets is broken: %s", n, strings.Join(problems, "; "))
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
