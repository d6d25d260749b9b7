package config

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// lines maps every key path of a TOML document ("paths.submission.host") and
// every table ("paths.submission") to the line it is written on, so that a
// validation problem found after decoding can still name its line.
type lines map[string]int

// keyLines walks the document with go-toml's parser. A document that does not
// parse yields what was read before the error; the decoder reports the error.
func keyLines(data []byte) lines {
	out := lines{}
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
		}
	}
	return out
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
