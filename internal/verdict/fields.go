package verdict

import (
	"bytes"
	"fmt"
	"strings"
)

// Field is one header field as it appears in a message: its name as written
// and its value unfolded (RFC 5322 section 2.2.3), without the leading space.
type Field struct {
	Name  string
	Value string
}

// Fields is a message's header in order, topmost first: the order in which
// receivers prepended their trace fields, newest first.
type Fields []Field

// Values returns the values of every field called name (case-insensitive), in order.
func (fs Fields) Values(name string) []string {
	var out []string
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Get returns the value of the first field called name, or "".
func (fs Fields) Get(name string) string {
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// maxFieldErrs bounds the problems ReadFields reports about one header.
const maxFieldErrs = 10

// ReadFields reads a header block (up to the first empty line; the body, if
// any, is ignored). It accepts CRLF or bare LF line ends. A line that is
// neither a field nor a continuation is skipped and described in the errors
// (at most maxFieldErrs of them), and reading goes on: one broken line must
// not hide the rest of a header. A block with no field at all is an error.
func ReadFields(header []byte) (Fields, []string) {
	var fs Fields
	var errs []string
	problem := func(format string, args ...any) {
		if len(errs) < maxFieldErrs {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	for n, line := range bytes.Split(header, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the header
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fs) == 0 {
				problem("line %d: a continuation line before any field", n+1)
				continue
			}
			fs[len(fs)-1].Value += string(line)
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || !validName(name) {
			problem("line %d: not a header field: %q", n+1, clip(string(line)))
			continue
		}
		fs = append(fs, Field{Name: string(name), Value: string(value)})
	}
	for i := range fs {
		fs[i].Value = strings.TrimSpace(fs[i].Value)
	}
	if len(fs) == 0 && len(errs) == 0 {
		errs = append(errs, "no header fields")
	}
	return fs, errs
}

// validName reports whether b is a field name: printable ASCII but ':' and
// space (RFC 5322 section 2.2).
func validName(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
