package config

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration: where, which key, what, and
// the fix. Its Error reads "FILE:LINE: key.path: what is wrong (the fix)".
type Problem struct {
	// File is the file the key is written in; "" when the configuration was
	// built in code.
	File string
	// Line and Column locate the key; 0 when unknown. Column is set only for
	// TOML syntax errors.
	Line, Column int
	// Key is the dotted key path, e.g. "seeds.gmail-1.password_env"; "" when the
	// problem is with the file as a whole.
	Key string
	// Msg says what is wrong, then the fix in parentheses.
	Msg string

	// cover is the prefix of the keys of problems found while loading that
	// already explain this one; when empty, Key and the keys under it do.
	cover string
}

// Error formats the problem as one line.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.File != "" && p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	for _, s := range []string{p.Key, p.Msg} {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// Errors is every problem of a configuration, reported at once. Its Error
// prints one problem per line.
type Errors []error

// Error prints one problem per line.
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems, for errors.As with a *Problem.
func (e Errors) Unwrap() []error { return e }

// problems collects Problems for one file whose key lines are known.
type problems struct {
	file  string
	lines lines
	errs  *[]error
}

// add records a problem with key, placed on the key's line (or its table's).
func (p problems) add(key, format string, args ...any) {
	p.addCovered(key, "", format, args...)
}

// addCovered is add for a problem that any loading problem whose key starts
// with cover already explains (Load then drops it).
func (p problems) addCovered(key, cover, format string, args ...any) {
	*p.errs = append(*p.errs, &Problem{File: p.file, Line: p.lines.line(key), Key: key,
		Msg: fmt.Sprintf(format, args...), cover: cover})
}

// uncovered returns the problems of later that no problem of earlier explains:
// a value that could not be read (a missing environment variable, a bad
// duration) is reported once, not again as missing or out of range.
func uncovered(later, earlier []error) []error {
	var out []error
	for _, err := range later {
		p, ok := err.(*Problem)
		if !ok || !slices.ContainsFunc(earlier, func(e error) bool { return covers(e, p) }) {
			out = append(out, err)
		}
	}
	return out
}

func covers(err error, p *Problem) bool {
	e, ok := err.(*Problem)
	if !ok || e.File != p.File || e.Key == "" {
		return false
	}
	if p.cover != "" {
		return strings.HasPrefix(e.Key, p.cover)
	}
	return e.Key == p.Key || strings.HasPrefix(e.Key, p.Key+".")
}

// sortProblems orders problems as a reader fixes them: the config file first,
// then the other files by name, each by line.
func sortProblems(errs []error, configFile string) {
	rank := func(err error) (int, string, int) {
		p, ok := err.(*Problem)
		switch {
		case !ok:
			return 2, "", 0
		case p.File == configFile:
			return 0, "", p.Line
		default:
			return 1, p.File, p.Line
		}
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		ra, fa, la := rank(a)
		rb, fb, lb := rank(b)
		if ra != rb {
			return ra - rb
		}
		if c := strings.Compare(fa, fb); c != 0 {
			return c
		}
		return la - lb
	})
}
