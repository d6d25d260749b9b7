package verdict

import (
	"fmt"
	"strings"
	"time"
)

// readDate reads a date-time at s[i:]: RFC 5322 section 3.3 with the
// obsolete forms of section 4.3 (two- and three-digit years, zone names,
// comments and spaces between tokens) and the slips real receivers make: no
// comma after the day name, no seconds, missing spaces, "+hh:mm", a zone name
// after the numeric zone. net/mail.ParseDate rejects several of these.
//
// It returns the instant in the zone written, where it stopped, a note when
// it had to guess the zone (read as UTC), and a problem when there is no
// date. end is meaningful only without a problem.
func readDate(s string, i int) (t time.Time, end int, note, problem string) {
	p := &arParser{s: s, i: i}
	p.cfws()
	if w := p.run(isLetter); w != "" {
		if !isDayName(w) {
			return t, 0, "", fmt.Sprintf("expected a day, found %q", clip(w))
		}
		p.cfws()
		if p.peek() == ',' {
			p.i++
			p.cfws()
		}
	}
	// found quotes what stands where a token was expected.
	found := func(start int) string { p.i = start; return clip(p.word()) }
	start := p.i
	day := p.run(isDigit)
	if day == "" || len(day) > 2 {
		return t, 0, "", fmt.Sprintf("expected a day of the month, found %q", found(start))
	}
	p.cfws()
	start = p.i
	month := monthOf(p.run(isLetter))
	if month == 0 {
		return t, 0, "", fmt.Sprintf("expected a month, found %q", found(start))
	}
	p.cfws()
	start = p.i
	year := p.run(isDigit)
	if len(year) < 2 || len(year) > 4 {
		return t, 0, "", fmt.Sprintf("expected a year, found %q", found(start))
	}
	p.cfws()
	hour, minute, sec, ok := readTime(p)
	if !ok {
		return t, 0, "", fmt.Sprintf("expected a time, found %q", clip(p.word()))
	}
	afterTime := p.i
	p.cfws()
	offset, note, ok := readZone(p)
	if !ok {
		p.i = afterTime // what is there is no zone: left for the caller to report
		note = "no zone, read as UTC"
	}

	d, y := atoi(day), atoi(year)
	switch len(year) { // RFC 5322 section 4.3
	case 2:
		if y < 50 {
			y += 2000
		} else {
			y += 1900
		}
	case 3:
		y += 1900
	}
	if hour > 23 || minute > 59 || sec > 60 {
		return t, 0, "", fmt.Sprintf("time %02d:%02d:%02d out of range", hour, minute, sec)
	}
	// time.Date would turn 31 Nov into 1 Dec. Day 0 of the next month is
	// the last of this one.
	if last := time.Date(y, month+1, 0, 0, 0, 0, 0, time.UTC).Day(); d < 1 || d > last {
		return t, 0, "", fmt.Sprintf("no day %d in %s", d, month)
	}
	// A leap second (60) becomes the first second of the next minute.
	return time.Date(y, month, d, hour, minute, sec, 0, time.FixedZone("", offset)), p.i, note, ""
}

// readTime reads hour ":" minute [":" second], with CFWS allowed around the
// colons (RFC 5322 section 4.3).
func readTime(p *arParser) (hour, minute, sec int, ok bool) {
	h := p.run(isDigit)
	p.cfws()
	if h == "" || len(h) > 2 || p.peek() != ':' {
		return 0, 0, 0, false
	}
	p.i++
	p.cfws()
	m := p.run(isDigit)
	if m == "" || len(m) > 2 {
		return 0, 0, 0, false
	}
	save := p.i
	p.cfws()
	if p.peek() != ':' {
		p.i = save // no seconds
		return atoi(h), atoi(m), 0, true
	}
	p.i++
	p.cfws()
	s := p.run(isDigit)
	if s == "" || len(s) > 2 {
		return 0, 0, 0, false
	}
	return atoi(h), atoi(m), atoi(s), true
}

// readZone reads a zone: "+hhmm" or "-hhmm" (RFC 5322 section 3.3), also
// written "+hh:mm", or a name (section 4.3 obs-zone). Unknown names are
// read as UTC, with a note. ok is false when there is no zone; nothing is
// then consumed.
func readZone(p *arParser) (offset int, note string, ok bool) {
	switch c := p.peek(); {
	case c == '+' || c == '-':
		start := p.i
		p.i++
		hh := p.run(isDigit)
		mm := ""
		if len(hh) == 4 {
			hh, mm = hh[:2], hh[2:]
		} else if len(hh) == 2 && p.peek() == ':' {
			p.i++
			mm = p.run(isDigit)
		}
		if len(hh) != 2 || len(mm) != 2 || atoi(mm) > 59 {
			p.i = start
			return 0, "", false
		}
		offset = (atoi(hh)*60 + atoi(mm)) * 60
		if c == '-' {
			offset = -offset
		}
		// "+0000 UTC", "-0800 PST": a name repeating the zone, comments aside.
		save := p.i
		p.cfws()
		if w := p.run(isLetter); len(w) < 2 || len(w) > 5 || strings.ToUpper(w) != w {
			p.i = save
		}
		return offset, "", true
	case isLetter(c):
		w := p.run(isLetter)
		if off, known := zoneNames[strings.ToUpper(w)]; known {
			return off * 3600, "", true
		}
		if len(w) == 1 && w != "j" && w != "J" {
			// Military zones were defined with the wrong sign in RFC 822;
			// RFC 5322 section 4.3 says to read them as -0000.
			return 0, "", true
		}
		if len(w) > 5 {
			p.i -= len(w)
			return 0, "", false
		}
		return 0, fmt.Sprintf("unknown zone %q read as UTC", w), true
	}
	return 0, "", false
}

// zoneNames are the obsolete zone names of RFC 5322 section 4.3, in hours,
// and UTC, which is no obs-zone but common.
var zoneNames = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
	"EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
	"MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}

var (
	dayNames   = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// isDayName reports whether w is a day of the week, abbreviated as RFC 5322
// section 3.3 has it or written out, in any case.
func isDayName(w string) bool {
	for _, d := range dayNames {
		if strings.EqualFold(w, d[:3]) || strings.EqualFold(w, d) {
			return true
		}
	}
	return false
}

// monthOf returns the month w names, abbreviated or written out, or 0.
func monthOf(w string) time.Month {
	for i, m := range monthNames {
		if strings.EqualFold(w, m[:3]) || strings.EqualFold(w, m) {
			return time.Month(i + 1)
		}
	}
	return 0
}

// atoi reads the at most four digits its callers give it.
func atoi(digits string) int {
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	return n
}
