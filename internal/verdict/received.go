package verdict

import (
	"net/netip"
	"strings"
	"time"
)

// Hop is one Received field (RFC 5321 section 4.4, RFC 5322 section 3.6.7):
// one server that handled the message, as that server described it.
type Hop struct {
	// From is the name the sending side gave in HELO, EHLO or LHLO, as
	// written ("[192.0.2.1]" for an address literal), "" when absent. Exim and
	// qmail write the reverse-DNS name after "from" and the HELO name in a
	// comment ("helo=x", "HELO x"); From is then the HELO name.
	From string
	// FromHost is the reverse-DNS name the receiver wrote next to the sending
	// IP ("from x (mail.example [192.0.2.1])"), without a trailing dot; "" when
	// none was written or it was "unknown".
	FromHost string
	// FromIP is the sending IP, v4 or v6, without brackets or "IPv6:" prefix,
	// in netip's canonical form; "" when none.
	FromIP string
	By     string // the receiving host, as written
	Via    string // words after "via", e.g. Microsoft's "Frontend Transport"
	// With is the protocol. Names of the SMTP family (RFC 3848, RFC 6531:
	// SMTP, ESMTPS, LMTPSA, UTF8SMTPS...), HTTP and HTTPS are upper-cased;
	// anything else is kept as written: "Microsoft SMTP Server", "local",
	// "mapi", "NNFMP". "" when absent.
	With string
	// TLS is set when the hop used TLS: With ends in S or SA, or a comment
	// names a TLS version or a cipher, or Google's "Google Transport
	// Security", or Exim's "tls" clause names a cipher.
	TLS bool
	// TLSVersion is the version a comment names, normalised to "TLS1.3",
	// "TLS1.2"... (OpenSSL's "TLSv1" is "TLS1.0", "SSLv3" is "SSL3.0"); ""
	// when unknown.
	TLSVersion string
	// Auth is set when the client authenticated: With ends in A or SA
	// (ESMTPA, ESMTPSA, LMTPA...) or a comment says "authenticated".
	Auth bool
	ID   string // as written
	For  string // the recipient, without angle brackets
	// Date is the date-time after the last ';', in the zone written there;
	// zero when missing or unreadable.
	Date time.Time
	// Delay is the time since the previous hop with a known date, or since
	// the submission for the first; DelayKnown says both dates were known.
	// Skew marks a negative Delay: the clocks disagree. Hops sets these;
	// ParseReceived leaves them zero.
	Delay      time.Duration
	DelayKnown bool
	Skew       bool
	// Raw is the field value, unfolded as for AuthResults.Raw.
	Raw string
	// Err describes what could not be read, "" when the value was clean;
	// offsets count bytes of Raw. A hop with Err keeps every part that could
	// be read.
	Err string
}

// Hops parses a message's Received fields and orders them oldest first. values
// are in header order, newest first, since each receiver prepends its field
// (RFC 5321 section 4.4). Each hop's Delay is measured from the previous hop
// with a known date: a hop whose date is missing or unreadable gets no delay
// and is skipped over, so the next hop still gets one. submitted, when not
// zero, is when the message was submitted; the first dated hop is measured
// from it. A negative delay is kept as it is and flagged as Skew: it tells of
// a wrong clock, which the reader should see.
//
// Received dates have whole seconds, and submitted usually does not: a first
// hop written in the second the submission started shows up to a second
// before it. That is the date's resolution, not a clock's fault, so such a
// delay counts as 0.
func Hops(values []string, submitted time.Time) []Hop {
	hops := make([]Hop, len(values))
	last := submitted
	for i := range hops {
		h := ParseReceived(values[len(values)-1-i])
		if !h.Date.IsZero() {
			if !last.IsZero() {
				h.Delay = h.Date.Sub(last)
				h.DelayKnown = true
				if last.Equal(submitted) && h.Date.Nanosecond() == 0 && h.Delay < 0 && h.Delay > -time.Second {
					h.Delay = 0
				}
				h.Skew = h.Delay < 0
			}
			last = h.Date
		}
		hops[i] = h
	}
	return hops
}

// ParseReceived parses one Received field value, given without the field
// name: clauses from, by, via, with, id and for in any order (RFC 5321
// section 4.4 Stamp; RFC 5322 section 3.6.7 received-token), comments
// anywhere, then ';' and the date. It reads what real receivers write, which
// often strays from the grammar: the date is taken after the last ';'
// outside comments, or recovered from the clauses when no ';' precedes it;
// unknown words are reported and skipped. Keywords are case-insensitive.
//
// ParseReceived never panics and does bounded work per byte; what it cannot
// read is described in Hop.Err, at most maxParseErrs problems.
func ParseReceived(value string) Hop {
	s := unfold(value)
	h := Hop{Raw: s}
	semi, openComment, openQuote := lastSemicolon(s)
	clauses := s
	if semi >= 0 {
		clauses = s[:semi]
	}
	p := &rcvParser{arParser: arParser{s: clauses}, h: &h, semi: semi >= 0}
	switch {
	case blank(s, 0):
		p.errorf("empty value")
	case semi >= 0 && !blank(s, semi+1):
		p.clauses()
		p.date(s, semi+1)
	default:
		// No date after the last ';': one may sit among the clauses.
		p.findDate = true
		if p.clauses(); h.Date.IsZero() {
			p.errorf("no date")
		}
	}
	p.finishFrom()
	// lastSemicolon scanned the whole value: an unclosed comment or quoted
	// string is reported whichever part it fell in.
	p.openComment = p.openComment || openComment
	p.openQuote = p.openQuote || openQuote
	h.Err = p.err()
	return h
}

// lastSemicolon returns the index of the ';' before the date: the last one
// outside comments and quoted strings, since comments hold ';' and some
// receivers write more than one. When there is none but a comment or quoted
// string is left open, the last ';' inside it is taken, so that the date after
// "(unclosed; Mon, ..." is still read. semi is -1 when there is no ';'; the
// flags tell of a comment or quoted string left open.
func lastSemicolon(s string) (semi int, openComment, openQuote bool) {
	q := &arParser{s: s}
	last, open := -1, -1
	for !q.eof() {
		switch q.s[q.i] {
		case ';':
			last = q.i
			q.i++
		case '(':
			start := q.i
			if q.comment(); q.openComment && open < 0 {
				open = start
			}
		case '"':
			start := q.i
			if q.quoted(); q.openQuote && open < 0 {
				open = start
			}
		default:
			q.i++
		}
	}
	if last < 0 && open >= 0 {
		last = strings.LastIndexByte(s, ';')
	}
	return last, q.openComment, q.openQuote
}

// blank reports whether s[i:] holds only whitespace and comments.
func blank(s string, i int) bool {
	q := &arParser{s: s, i: i}
	q.cfws()
	return q.eof()
}

// rcvParser reads the clauses of one value, up to the last ';'. Like
// arParser, whose scanning it reuses, each loop consumes input or stops.
type rcvParser struct {
	arParser
	h        *Hop
	clause   string // the clause being read, for the comments after it
	fromWord string // the value after "from", before From and FromHost are told apart
	helo     string // a HELO name written in a comment after "from"
	findDate bool   // no date after the last ';': look for one among the clauses
	semi     bool   // the value has a ';': words the note on a date found among the clauses
}

// clauses reads keyword-value pairs to the end of p.s.
func (p *rcvParser) clauses() {
	for {
		p.space()
		if p.eof() {
			return
		}
		if p.peek() == ';' {
			p.i++ // an earlier ';': only the last one ends the clauses
			continue
		}
		start := p.i
		word := p.token()
		kw := keyword(word)
		if kw == "" {
			if p.findDate && p.dateAt(start) {
				return
			}
			p.errorf("offset %d: unexpected %q", start, clip(word))
			continue
		}
		p.clause = kw
		p.space()
		if p.eof() || p.peek() == ';' || keyword(p.peekToken()) != "" {
			p.errorf("offset %d: %s without a value", start, word)
			continue
		}
		p.value(start, kw)
	}
}

// value reads the value of the clause kw, which started at start.
func (p *rcvParser) value(start int, kw string) {
	h := p.h
	v := p.token()
	repeated := false
	switch kw {
	case "from":
		repeated = p.fromWord != ""
		if !repeated {
			p.fromWord = v
		}
	case "by":
		repeated = h.By != ""
		if !repeated {
			h.By = v
		}
	case "via":
		v = p.moreWords(v)
		repeated = h.Via != ""
		if !repeated {
			h.Via = v
		}
	case "with":
		v = p.moreWords(v)
		if h.With == "" {
			h.With = p.protocol(v)
			break
		}
		// Mimecast adds a second clause: "with ESMTP with both STARTTLS and AUTH".
		for w := range strings.FieldsSeq(v) {
			h.TLS = h.TLS || strings.EqualFold(w, "STARTTLS")
			h.Auth = h.Auth || strings.EqualFold(w, "AUTH")
		}
	case "id":
		repeated = h.ID != ""
		if !repeated {
			h.ID = v
		}
	case "for":
		repeated = h.For != ""
		if !repeated {
			h.For = strings.Trim(v, "<>,") // "<u@example.com>", also doubled or with a comma
		}
	case "tls":
		// Exim: "with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384", a cipher.
		h.TLS = true
	}
	if repeated {
		p.errorf("offset %d: second %q clause ignored", start, kw)
	}
}

// moreWords extends a with or via value by the plain words that follow it
// with only spaces between, as in "with Microsoft SMTP Server" or "via
// Frontend Transport". A comment, a keyword, any other word or a date ends
// the value; runs of spaces (left by unfolding) become one.
func (p *rcvParser) moreWords(v string) string {
	start, end := p.i-len(v), p.i
	for {
		for !p.eof() && isSpace(p.s[p.i]) {
			p.i++
		}
		at := p.i
		w := p.token()
		if w == "" || !isPlainWord(w) || keyword(w) != "" {
			p.i = end
			break
		}
		if p.findDate && p.dateAt(at) {
			break // the date ends the value, and the clauses
		}
		end = p.i
	}
	v = p.s[start:end]
	if strings.ContainsAny(v, "\t\r\n") || strings.Contains(v, "  ") {
		v = strings.Join(strings.Fields(v), " ")
	}
	return v
}

// dateAt reports whether a date starts at i and nothing but comments follows
// it; then it takes the date, with a note that it was not after a ';', and
// consumes the rest.
func (p *rcvParser) dateAt(i int) bool {
	t, end, note, problem := readDate(p.s, i)
	if problem != "" || !blank(p.s, end) {
		return false
	}
	p.h.Date = t
	if p.semi {
		p.errorf("offset %d: date before the last ';'", i)
	} else {
		p.errorf("offset %d: no ';' before the date", i)
	}
	if note != "" {
		p.errorf("offset %d: %s", i, note)
	}
	p.i = len(p.s)
	return true
}

// date reads the date after the last ';' (RFC 5322 section 3.6.7). The date
// is kept whatever follows it; text other than comments is reported.
func (p *rcvParser) date(s string, i int) {
	t, end, note, problem := readDate(s, i)
	if problem != "" {
		p.errorf("offset %d: date: %s", i, problem)
		return
	}
	p.h.Date = t
	if note != "" {
		p.errorf("offset %d: date: %s", i, note)
	}
	q := &arParser{s: s, i: end}
	if q.cfws(); !q.eof() {
		p.errorf("offset %d: text after the date: %q", q.i, clip(s[q.i:]))
	}
}

// protocol returns a with value as Hop.With has it and sets TLS and Auth from
// it: the SMTP family names "[UTF8] [E]SMTP or LMTP, then S for TLS, then A
// for AUTH" (RFC 3848 section 1, RFC 6531 section 3.7.3) and HTTP(S).
// Gmail's SMTPS is no registered name but follows the pattern.
func (p *rcvParser) protocol(v string) string {
	u := strings.ToUpper(v)
	switch u {
	case "HTTP":
		return u
	case "HTTPS":
		p.h.TLS = true
		return u
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(u, "UTF8"), "E")
	if !strings.HasPrefix(rest, "SMTP") && !strings.HasPrefix(rest, "LMTP") {
		return v
	}
	switch rest[4:] {
	case "":
	case "S":
		p.h.TLS = true
	case "A":
		p.h.Auth = true
	case "SA":
		p.h.TLS, p.h.Auth = true, true
	default:
		return v
	}
	return u
}

// space skips whitespace and comments, reading each comment for what it
// tells of TLS, authentication and, after "from", the sending host.
func (p *rcvParser) space() {
	for !p.eof() {
		switch c := p.s[p.i]; {
		case isSpace(c):
			p.i++
		case c == '(':
			start := p.i
			p.comment()
			p.note(p.s[start:p.i])
		default:
			return
		}
	}
}

// token reads a word up to whitespace, a comment or ';'. A quoted string in
// it is taken whole, so a quoted local-part may hold spaces.
func (p *rcvParser) token() string {
	start := p.i
	for !p.eof() {
		switch c := p.s[p.i]; {
		case isSpace(c) || c == '(' || c == ';':
			return p.s[start:p.i]
		case c == '"':
			p.quoted()
		default:
			p.i++
		}
	}
	return p.s[start:]
}

func (p *rcvParser) peekToken() string {
	save := p.i
	w := p.token()
	p.i = save
	return w
}

// keyword returns the clause that w names, in lower case, or "". Besides the
// clauses of RFC 5321 section 4.4, it knows Exim's "tls".
func keyword(w string) string {
	for _, kw := range [...]string{"from", "by", "via", "with", "id", "for", "tls"} {
		if strings.EqualFold(w, kw) {
			return kw
		}
	}
	return ""
}

// note reads one comment, nested ones included. TLS versions and ciphers
// appear in many places (Postfix puts them after from, Sendmail and Google
// after id, Microsoft after with), so every comment is searched for them.
func (p *rcvParser) note(c string) {
	h := p.h
	if v := tlsVersion(c); v != "" {
		h.TLS = true
		if h.TLSVersion == "" {
			h.TLSVersion = v
		}
	}
	if strings.Contains(c, "Google Transport Security") {
		h.TLS = true
	}
	var prev string
	n := 0
	heloNext := false
	for w := range strings.FieldsFuncSeq(c, isCommentSep) {
		switch {
		case strings.EqualFold(w, "authenticated") && !strings.EqualFold(prev, "not"),
			w == "AUTH:": // Courier: "(AUTH: LOGIN user@example.com)"
			h.Auth = true
		case strings.EqualFold(w, "cipher") || hasPrefixFold(w, "cipher="):
			h.TLS = true
		}
		if p.clause == "from" {
			switch {
			case heloNext:
				p.helo, heloNext = w, false
			case hasPrefixFold(w, "helo="):
				p.helo = w[len("helo="):]
			case strings.EqualFold(w, "helo") || strings.EqualFold(w, "ehlo"):
				heloNext = true
			case n < 2 && h.FromIP == "":
				// "[192.0.2.1]", "(192.0.2.1)", "(name [192.0.2.1])": the
				// address comes first or right after the reverse-DNS name.
				if ip := ipOf(w); ip != "" {
					h.FromIP = ip
					if n == 1 && isHostName(prev) && !strings.EqualFold(prev, "unknown") {
						h.FromHost = strings.TrimRight(prev, ".")
					}
				}
			}
		}
		prev = w
		n++
	}
}

// finishFrom tells From from FromHost once the from clause and its comments
// are read. When a comment gave the HELO name (Exim, qmail), the word after
// "from" is the reverse-DNS name; otherwise it is the HELO name.
func (p *rcvParser) finishFrom() {
	h := p.h
	h.From = p.fromWord
	if p.helo != "" {
		h.From = p.helo
		if h.FromHost == "" && ipOf(p.fromWord) == "" && isHostName(p.fromWord) && !strings.EqualFold(p.fromWord, "unknown") {
			h.FromHost = strings.TrimRight(p.fromWord, ".")
		}
	}
	if h.FromIP == "" {
		h.FromIP = ipOf(p.fromWord) // "from [192.0.2.1]" or Yahoo's "from 192.0.2.1"
	}
}

// ipOf returns the IP address in w, in canonical form, or "": w may be an
// address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321 section
// 4.1.3), with a port after it, or qmail's "user@192.0.2.1".
func ipOf(w string) string {
	if strings.HasPrefix(w, "[") {
		end := strings.IndexByte(w, ']')
		if end < 0 {
			return ""
		}
		w = w[1:end]
	} else if at := strings.LastIndexByte(w, '@'); at >= 0 {
		w = w[at+1:]
	}
	if hasPrefixFold(w, "IPv6:") {
		w = w[len("IPv6:"):]
	}
	if a, err := netip.ParseAddr(w); err == nil {
		return a.String()
	}
	if ap, err := netip.ParseAddrPort(w); err == nil {
		return ap.Addr().String()
	}
	return ""
}

// tlsVersion finds a TLS or SSL version in a comment, in the spellings of
// Postfix ("TLSv1.3"), Microsoft and Google ("TLS1_2"), Exim ("TLS1.3") and
// others ("TLS 1.2"), and returns it as "TLS1.3". Cipher names such as
// "TLS_AES_256_GCM_SHA384" are not versions: a digit must follow.
func tlsVersion(c string) string {
	for i := 0; i+3 < len(c); i++ {
		if i > 0 && isAlnum(c[i-1]) {
			continue
		}
		var name string
		switch {
		case hasPrefixFold(c[i:], "tls"):
			name = "TLS"
		case hasPrefixFold(c[i:], "ssl"):
			name = "SSL"
		default:
			continue
		}
		j := i + 3
		v := c[j] == 'v' || c[j] == 'V'
		if v || c[j] == ' ' {
			j++
		}
		if j >= len(c) || !isDigit(c[j]) {
			continue
		}
		major, minor := c[j], byte(0)
		j++
		if j+1 < len(c) && (c[j] == '.' || c[j] == '_') && isDigit(c[j+1]) {
			minor = c[j+1]
			j += 2
		}
		// "TLS12x" or a host name "tlsv1.example.net" is no version.
		if j < len(c) && isAlnum(c[j]) || j+1 < len(c) && c[j] == '.' && isAlnum(c[j+1]) {
			continue
		}
		if minor == 0 {
			if !v {
				continue // "TLS1" alone is too vague; OpenSSL's "TLSv1" means 1.0
			}
			minor = '0'
		}
		return name + string(major) + "." + string(minor)
	}
	return ""
}

func isCommentSep(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '(' || r == ')' || r == ','
}

// isHostName reports whether w looks like a host name: letters, digits, '-',
// '_' and '.', with at least one letter.
func isHostName(w string) bool {
	letter := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case isLetter(c):
			letter = true
		case isDigit(c) || c == '-' || c == '_' || c == '.':
		default:
			return false
		}
	}
	return letter
}

// isPlainWord reports whether w is letters and digits only, as the words of
// a multi-word with or via value are.
func isPlainWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if !isAlnum(w[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }
