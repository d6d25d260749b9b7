package config

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// lines maps every key path of a TOML document ("paths.submission.host") and
// every table ("paths.submission") to the line it is written on, so that a
// problem found after decoding can still name its line.
type lines map[string]int

// span is one top-level `key = value` expression: its full key path, the lines
// it covers and its bytes in the document.
type span struct {
	key         string
	first, last int // lines
	start, end  int // byte offsets
}

// positions walks a document with go-toml's parser and returns the line of
// every key and table, and the span of every key/value expression. A document
// that does not parse yields what was read before the error; the decoder
// reports the error.
func positions(data []byte) (lines, []span) {
	out := lines{}
	var spans []span
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e.Key())
			out.set(&p, table, e.Key())
		case unstable.KeyValue:
			full := append(append([]string{}, table...), keyParts(e.Key())...)
			out.set(&p, full, e.Key())
			if v := e.Value(); v != nil && v.Kind == unstable.InlineTable {
				inline(&p, out, full, v)
			}
			if e.Raw.Length > 0 {
				sh := p.Shape(e.Raw)
				spans = append(spans, span{key: strings.Join(full, "."), first: sh.Start.Line, last: sh.End.Line,
					start: sh.Start.Offset, end: sh.End.Offset})
			}
		}
	}
	return out, spans
}

// keyLines returns the line of every key and table of a document.
func keyLines(data []byte) lines {
	l, _ := positions(data)
	return l
}

func inline(p *unstable.Parser, out lines, prefix []string, n *unstable.Node) {
	it := n.Children()
	for it.Next() {
		kv := it.Node()
		if kv.Kind != unstable.KeyValue {
			continue
		}
		full := append(append([]string{}, prefix...), keyParts(kv.Key())...)
		out.set(p, full, kv.Key())
		if v := kv.Value(); v != nil && v.Kind == unstable.InlineTable {
			inline(p, out, full, v)
		}
	}
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// set records the line of the key's first part; the first definition wins.
func (l lines) set(p *unstable.Parser, key []string, it unstable.Iterator) {
	name := strings.Join(key, ".")
	if _, seen := l[name]; seen {
		return
	}
	if it.Next() {
		if n := it.Node(); n.Raw.Length > 0 {
			l[name] = p.Shape(n.Raw).Start.Line
			return
		}
	}
	l[name] = 0
}

// line returns the line of key, or of its nearest enclosing table, or 0.
func (l lines) line(key string) int {
	for key != "" {
		if n := l[key]; n > 0 {
			return n
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// spanAt returns the expression that holds key (or a key under it) on line row.
func spanAt(spans []span, key []string, row int) (span, bool) {
	for n := len(key); n > 0; n-- {
		name := strings.Join(key[:n], ".")
		for _, s := range spans {
			if s.key == name && s.first <= row && row <= s.last {
				return s, true
			}
		}
	}
	return span{}, false
}

// blank returns data with the span's bytes replaced by spaces, line breaks
// kept, so that the document decodes without it and every line stays put.
func blank(data []byte, s span) []byte {
	out := append([]byte{}, data...)
	for i := s.start; i < s.end && i < len(out); i++ {
		if out[i] != '\n' && out[i] != '\r' {
			out[i] = ' '
		}
	}
	return out
}
