package verdict

import (
	"errors"
	"fmt"
	"strings"
)

// ParseAuthResults parses one Authentication-Results header value (RFC 8601
// section 2.2). It is written here rather than taken from go-msgauth's
// authres.Parse, which splits on ';' and spaces and so misreads the comments
// real receivers put everywhere (Gmail's "(google.com: domain of ...)",
// Microsoft's "(sender IP is ...)", comments holding ';' or '='). It never
// panics; what it cannot read is described in the returned error and in
// AuthResults.Err, and every result it could read is kept.
func ParseAuthResults(value string) (AuthResults, error) {
	p := &arParser{s: unfold(value)}
	ar := AuthResults{Raw: p.s}
	p.skipCFWS()
	start := p.i
	id := p.value()
	if strings.Contains(id, "=") {
		// No authserv-id: the header starts with a result (Microsoft 365).
		p.i = start
		p.resinfos(&ar, false)
	} else {
		ar.AuthservID = strings.ToLower(id)
		p.skipCFWS()
		if v := p.digits(); v != "" {
			ar.Version = v
		}
		p.resinfos(&ar, true)
	}
	if ar.AuthservID == "" && len(ar.Results) == 0 && len(p.errs) == 0 {
		p.errs = append(p.errs, "empty header")
	}
	if len(p.errs) > 0 {
		ar.Err = strings.Join(p.errs, "; ")
		return ar, errors.New("authentication-results: " + ar.Err)
	}
	return ar, nil
}

// unfold removes the CRLFs of folded lines (RFC 5322 section 2.2.3).
func unfold(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "")
	return strings.ReplaceAll(s, "\n", "")
}

type arParser struct {
	s    string
	i    int
	errs []string
}

func (p *arParser) eof() bool { return p.i >= len(p.s) }

func (p *arParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

// skipCFWS skips whitespace and comments; comments nest and may hold quoted
// pairs, ';' and '=' (RFC 5322 section 3.2.2).
func (p *arParser) skipCFWS() {
	for !p.eof() {
		switch c := p.peek(); {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.i++
		case c == '(':
			p.skipComment()
		default:
			return
		}
	}
}

// skipComment skips one comment, nested ones included.
func (p *arParser) skipComment() {
	depth := 0
	for !p.eof() {
		switch p.s[p.i] {
		case '\\':
			p.i = min(p.i+1, len(p.s)-1) // a quoted pair: skip the next byte too
		case '(':
			depth++
		case ')':
			depth--
		}
		p.i++
		if depth == 0 {
			return
		}
	}
	p.errs = append(p.errs, "unclosed comment")
}

// value reads a quoted string or a run of characters up to whitespace, ';' or
// a comment. Runs may hold '=', '/', '@' and '.', as real header.b values do.
func (p *arParser) value() string {
	if p.peek() == '"' {
		return p.quoted()
	}
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *arParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\\':
			if !p.eof() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	p.errs = append(p.errs, "unclosed quoted string")
	return b.String()
}

// keyword reads letters, digits, '-' and '_' (RFC 8601 Keyword, and the
// method-version digits).
func (p *arParser) keyword() string {
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *arParser) digits() string {
	start := p.i
	for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i > start && !p.eof() && p.s[p.i] != ';' && p.s[p.i] != ' ' && p.s[p.i] != '(' && p.s[p.i] != '\t' {
		p.i = start // a digit run that is not the whole word is not a version
		return ""
	}
	return p.s[start:p.i]
}

// skipTo moves past the next ';' outside comments and quotes, after an error.
func (p *arParser) skipTo() {
	for !p.eof() {
		switch p.peek() {
		case '(':
			p.skipCFWS()
		case '"':
			p.quoted()
		case ';':
			return
		default:
			p.i++
		}
	}
}

// resinfos reads "; resinfo" repeatedly (RFC 8601 section 2.2). With sep false
// the first resinfo has no leading ';'.
func (p *arParser) resinfos(ar *AuthResults, sep bool) {
	for {
		p.skipCFWS()
		if p.eof() {
			return
		}
		if sep {
			if p.peek() != ';' {
				p.errs = append(p.errs, fmt.Sprintf("expected ';' at offset %d", p.i))
				p.skipTo()
				continue
			}
			p.i++
			p.skipCFWS()
			if p.eof() {
				return // a trailing semicolon
			}
			if p.peek() == ';' {
				continue // an empty element
			}
		}
		sep = true
		if r, ok := p.resinfo(); ok {
			ar.Results = append(ar.Results, r)
		}
	}
}

// resinfo reads methodspec [reasonspec] *propspec. "none" alone is no result.
func (p *arParser) resinfo() (Result, bool) {
	start := p.i
	method := strings.ToLower(p.keyword())
	if method == "" {
		p.errs = append(p.errs, fmt.Sprintf("expected a method at offset %d", start))
		p.skipTo()
		return Result{}, false
	}
	r := Result{Method: method}
	p.skipCFWS()
	if method == "none" && (p.eof() || p.peek() == ';') {
		return Result{}, false
	}
	if p.peek() == '/' {
		p.i++
		p.skipCFWS()
		r.Version = p.keyword()
		p.skipCFWS()
	}
	if p.peek() != '=' {
		p.errs = append(p.errs, fmt.Sprintf("method %q has no result", method))
		p.skipTo()
		return Result{}, false
	}
	p.i++
	p.skipCFWS()
	r.Value = strings.ToLower(p.keyword())
	if r.Value == "" {
		p.errs = append(p.errs, fmt.Sprintf("method %q has an empty result", method))
	}
	for {
		p.skipCFWS()
		if p.eof() || p.peek() == ';' {
			return r, true
		}
		kstart := p.i
		key := p.propKey()
		p.skipCFWS()
		if key == "" || p.peek() != '=' {
			p.errs = append(p.errs, fmt.Sprintf("%s: expected property=value at offset %d", method, kstart))
			p.skipTo()
			return r, true
		}
		p.i++
		p.skipCFWS()
		val := p.value()
		if strings.EqualFold(key, "reason") {
			r.Reason = val
			continue
		}
		typ, name, ok := strings.Cut(key, ".")
		if !ok {
			typ, name = "", key
		}
		r.Props = append(r.Props, Prop{Type: strings.ToLower(typ), Name: strings.ToLower(name), Value: val})
	}
}

// propKey reads "ptype.property" or "reason" up to '=', whitespace or a comment.
func (p *arParser) propKey() string {
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if c == '=' || c == ' ' || c == '\t' || c == ';' || c == '(' || c == '"' || c == '\r' || c == '\n' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}
