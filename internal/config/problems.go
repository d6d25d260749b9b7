package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration: where, which key, what, and
// the fix.
type Problem struct {
	File string
	Line int // 0 when unknown
	Key  string
	Msg  string
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Key != "" {
		b.WriteString(": " + p.Key)
	}
	b.WriteString(": " + p.Msg)
	return b.String()
}

// Errors is every problem of a configuration, reported at once.
type Errors []error

func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// problems collects Problems for one file whose key lines are known.
type problems struct {
	file  string
	lines lines
	errs  *[]error
}

func (p problems) add(key, format string, args ...any) {
	*p.errs = append(*p.errs, &Problem{File: p.file, Line: p.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}
