package verdict

import (
	"errors"
	"fmt"
	"strings"
)

// AuthResults.Err stays short however long the garbage: it names at most
// maxParseErrs problems and quotes at most maxQuoted bytes of input in each.
const (
	maxParseErrs = 5
	maxQuoted    = 24
)

// ParseAuthResults parses one Authentication-Results field value (RFC 8601
// section 2.2), given without the field name. Keywords (method, result, ptype,
// property) are returned in lower case and values as written.
//
// The tokenizer is our own rather than go-msgauth's authres.Parse, which splits
// the value on ';' and on spaces and does not skip comments: it misreads the
// comments real receivers put everywhere, such as Gmail's "(google.com: domain
// of ...)", Microsoft's "(sender IP is ...)" and OpenDKIM's "(2048-bit key;
// unprotected)", which hold ';' and '='.
//
// Microsoft 365 writes no authserv-id: the value starts with a result
// ("spf=pass (sender IP is ...) smtp.mailfrom=..."). Such a value is
// recognised by its first element reading as a method result; its AuthservID is
// "" and its results are parsed as usual.
//
// ParseAuthResults never panics and never gives up early: what it cannot read
// is described in AuthResults.Err (and in the error, with the same text), and
// every result it could read is kept.
func ParseAuthResults(value string) (AuthResults, error) {
	p := &arParser{s: unfold(value)}
	ar := AuthResults{Raw: p.s}
	p.cfws()
	switch {
	case p.eof():
		p.errorf("empty value")
	case p.atResult():
		ar.Results = p.resinfos(true)
	default:
		ar.AuthservID, ar.Version = p.authservID()
		ar.Results = p.resinfos(false)
	}
	ar.Err = p.err()
	if ar.Err != "" {
		return ar, errors.New("authentication-results: " + ar.Err)
	}
	return ar, nil
}

// unfold undoes header folding (RFC 5322 section 2.2.3). Bare LFs go too, since
// values read from files often lost their CRs.
func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", ""), "\n", "")
}

// arParser reads one unfolded value. Each of its loops consumes input on
// every turn or stops, so no input makes it spin.
type arParser struct {
	s    string
	i    int
	errs []string
	more int // errors beyond maxParseErrs
	// Unclosed comments and quoted strings run to the end of the value, so
	// they are noted once and reported last; lookahead can set them safely.
	openComment, openQuote bool
	// comments, when set, receives the text of each comment read (the
	// result's own, where receivers put facts such as DMARC's "p=REJECT").
	comments *[]string
}

// maxResults bounds the results read from one field: a real receiver writes
// a handful, and every one is stored with the probe.
const maxResults = 64

// Bounds on the comments kept per result.
const (
	maxComments   = 8
	maxCommentLen = 200
)

func (p *arParser) eof() bool { return p.i >= len(p.s) }

// atEnd reports the end of a resinfo: a ';' or the end of the value.
func (p *arParser) atEnd() bool { return p.eof() || p.s[p.i] == ';' }

// peek returns the byte at the position, or 0 at the end.
func (p *arParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *arParser) errorf(format string, args ...any) {
	if len(p.errs) == maxParseErrs {
		p.more++
		return
	}
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

func (p *arParser) err() string {
	errs := p.errs
	if p.openComment {
		errs = append(errs, "unclosed comment")
	}
	if p.openQuote {
		errs = append(errs, "unclosed quoted string")
	}
	if p.more > 0 {
		errs = append(errs, fmt.Sprintf("and %d more problems", p.more))
	}
	return strings.Join(errs, "; ")
}

// authservID reads the authserv-id and the optional authres-version after it
// (RFC 8601 sections 2.2 and 2.5). The id is lower-cased: it is normally a
// domain name, and trust compares it without regard to case anyway.
func (p *arParser) authservID() (id, version string) {
	if p.peek() == ';' {
		p.errorf("offset %d: missing authserv-id", p.i)
		return "", ""
	}
	id = strings.ToLower(p.pvalue())
	p.cfws()
	start := p.i
	if version = p.run(isDigit); !p.eof() && isValueByte(p.s[p.i]) {
		p.i, version = start, "" // "2fa.example.net" is no version
	}
	p.cfws()
	return id, version
}

// resinfos reads the results up to the end of the value (RFC 8601 section 2.2,
// 1*resinfo or no-result). Each is introduced by ';' except, with first set,
// the one at the start of a Microsoft value. Empty elements and a trailing ';'
// are skipped silently.
func (p *arParser) resinfos(first bool) []Result {
	var rs []Result
	for {
		p.cfws()
		if p.eof() {
			return rs
		}
		switch {
		case first:
			first = false
		case p.peek() == ';':
			p.i++
			p.cfws()
			if p.atEnd() {
				continue
			}
		case p.atResult():
			// "mx.example.org spf=pass": the ';' is missing but the intent is plain.
			p.errorf("offset %d: missing ';' before %q", p.i, p.word())
		default:
			p.errorf("offset %d: expected ';', found %q", p.i, p.word())
			p.skipElement()
			continue
		}
		if r, ok := p.resinfo(); ok {
			rs = append(rs, r)
		}
		if len(rs) == maxResults {
			p.errorf("more than %d results; the rest is skipped", maxResults)
			return rs
		}
	}
}

// resinfo reads methodspec [reasonspec] *propspec (RFC 8601 section 2.2) up
// to the next ';'. ok is false for "none" and for an element that is not a
// result; the latter is reported.
func (p *arParser) resinfo() (r Result, ok bool) {
	start := p.i
	method, version := p.method()
	if method == "" {
		p.errorf("offset %d: expected a method, found %q", start, p.word())
		p.skipElement()
		return Result{}, false
	}
	r.Method, r.Version = strings.ToLower(method), version
	if r.Method == "none" && p.atEnd() {
		return Result{}, false // no-result: nothing was authenticated
	}
	if p.peek() != '=' {
		p.errorf("offset %d: method %q has no result", start, clip(method))
		p.skipElement()
		return Result{}, false
	}
	p.i++
	p.cfws()
	r.Value = strings.ToLower(p.keyword())
	if r.Value == "" {
		p.errorf("offset %d: method %q has an empty result", start, clip(method))
		p.skipElement()
		return Result{}, false
	}
	p.comments = &r.Comments
	p.props(&r)
	p.comments = nil
	return r, true
}

// props reads the reasonspec and propspecs of r up to the next ';' (RFC 8601
// sections 2.2 and 2.3). Like the results of many receivers, it accepts a bare
// name=value (Microsoft's action=none) as a Prop with an empty Type, and a
// reason anywhere among the props.
func (p *arParser) props(r *Result) {
	for {
		p.cfws()
		if p.atEnd() {
			return
		}
		start := p.i
		typ, name, ok := p.propKey()
		if !ok {
			p.i = start
			p.errorf("offset %d: %s: expected ptype.property=value, found %q", start, clip(r.Method), p.word())
			p.skipElement()
			return
		}
		if typ == "" && knownMethods[name] {
			// "spf=pass dmarc=fail": a method where a property belongs means
			// a ';' is missing. resinfos reports it and reads the result.
			p.i = start
			return
		}
		p.i++ // '='
		p.cfws()
		quoted := p.peek() == '"'
		v := p.pvalue()
		if v == "" && !quoted { // `""` is a value, empty (RFC 5322 quoted-string)
			p.errorf("offset %d: %s: %s has no value", start, clip(r.Method), clip(strings.TrimPrefix(typ+"."+name, ".")))
		}
		if typ == "" && name == "reason" {
			if r.Reason == "" {
				r.Reason = v
			}
			continue
		}
		r.Props = append(r.Props, Prop{Type: typ, Name: name, Value: v})
	}
}

// knownMethods are the registered authentication methods (IANA "Email
// Authentication Methods") and those receivers use widely; one written bare
// where a property belongs starts a new result.
var knownMethods = map[string]bool{
	"spf": true, "dkim": true, "dmarc": true, "arc": true, "iprev": true, "auth": true, "compauth": true,
	"bimi": true, "dkim-adsp": true, "dkim-atps": true, "sender-id": true, "smime": true, "dnswl": true,
	"vbr": true, "rrvs": true, "domainkeys": true, "x-original-spf": true,
}

// propKey reads "ptype.property" or a bare name, with optional CFWS around the
// '.', and stops on the '='. Properties may hold further dots, as some
// receivers' extensions do.
func (p *arParser) propKey() (typ, name string, ok bool) {
	name = p.keyword()
	if name == "" {
		return "", "", false
	}
	p.cfws()
	if p.peek() == '.' {
		p.i++
		p.cfws()
		typ = name
		name = p.run(isPropertyByte)
		if name == "" {
			return "", "", false
		}
		p.cfws()
	}
	if p.peek() != '=' {
		return "", "", false
	}
	return strings.ToLower(typ), strings.ToLower(name), true
}

// pvalue reads a value (token or quoted-string), an address or a domain (RFC
// 8601 section 2.2 pvalue). Tokens are taken loosely, up to CFWS or ';', since
// real header.b values hold '/', '+' and '='. A quoted local-part followed by
// "@domain" is kept as written, quotes included.
func (p *arParser) pvalue() string {
	if p.peek() != '"' {
		return p.run(isValueByte)
	}
	start := p.i
	v := p.quoted()
	if p.peek() == '@' {
		p.run(isValueByte)
		return p.s[start:p.i]
	}
	return v
}

// quoted reads a quoted-string at '"' and returns its content with quoted
// pairs resolved (RFC 5322 section 3.2.4).
func (p *arParser) quoted() string {
	p.i++ // the opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if !p.eof() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	p.openQuote = true
	return b.String()
}

// cfws skips whitespace and comments (RFC 5322 section 3.2.2). Comments nest
// and may hold quoted pairs, ';', '=' and '"'.
func (p *arParser) cfws() {
	for !p.eof() {
		switch c := p.s[p.i]; {
		case isSpace(c):
			p.i++
		case c == '(':
			p.comment()
		default:
			return
		}
	}
}

// comment skips one comment at '(', nested ones included, and keeps its text
// when the parser collects comments.
func (p *arParser) comment() {
	start := p.i
	defer func() {
		if p.comments != nil && len(*p.comments) < maxComments && p.i-start >= 2 {
			text := strings.TrimSpace(p.s[start+1 : p.i-1])
			if len(text) > maxCommentLen {
				text = text[:maxCommentLen]
			}
			*p.comments = append(*p.comments, text)
		}
	}()
	depth := 0
	for !p.eof() {
		switch p.s[p.i] {
		case '\\':
			p.i++ // a quoted pair: the next byte is text, even ')'
		case '(':
			depth++
		case ')':
			depth--
		}
		p.i = min(p.i+1, len(p.s))
		if depth == 0 {
			return
		}
	}
	p.openComment = true
}

// skipElement moves to the next ';' outside comments and quoted strings, to
// resume after a problem.
func (p *arParser) skipElement() {
	for !p.eof() {
		switch p.s[p.i] {
		case ';':
			return
		case '(':
			p.comment()
		case '"':
			p.quoted()
		default:
			p.i++
		}
	}
}

// atResult reports whether a method result starts here: a keyword, an optional
// "/version", then '=' (RFC 8601 section 2.2 methodspec). An authserv-id is
// never followed by '=', which is what tells a Microsoft value from others.
func (p *arParser) atResult() bool {
	start := p.i
	defer func() { p.i = start }()
	method, _ := p.method()
	return method != "" && p.peek() == '='
}

// method reads a method, its optional "/version" and the CFWS around them
// (RFC 8601 section 2.2 methodspec, up to the '=').
func (p *arParser) method() (name, version string) {
	if name = p.keyword(); name == "" {
		return "", ""
	}
	p.cfws()
	if p.peek() == '/' {
		p.i++
		p.cfws()
		version = p.keyword()
		p.cfws()
	}
	return name, version
}

// keyword reads letters, digits, '-' and '_' (RFC 8601 section 2.2 Keyword,
// with '_' for receivers that use it).
func (p *arParser) keyword() string { return p.run(isKeywordByte) }

func (p *arParser) run(ok func(byte) bool) string {
	start := p.i
	for !p.eof() && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// word returns, without consuming it, a short piece of the input for an error
// message.
func (p *arParser) word() string {
	end := p.i
	for end < len(p.s) && end-p.i < maxQuoted && isValueByte(p.s[end]) {
		end++
	}
	return p.s[p.i:end]
}

func clip(s string) string {
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

func isSpace(c byte) bool        { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isDigit(c byte) bool        { return c >= '0' && c <= '9' }
func isPropertyByte(c byte) bool { return isKeywordByte(c) || c == '.' }
func isValueByte(c byte) bool    { return c != ';' && c != '(' && !isSpace(c) }

func isKeywordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_'
}
