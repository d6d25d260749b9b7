package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// maxValueErrors bounds how many wrongly typed values one file may report
// before decoding gives up on it.
const maxValueErrors = 50

// decode decodes a TOML document strictly into a T. Unknown keys are problems
// with their line and, when a known key is close, a suggestion. A value of the
// wrong type is a problem too; decoding goes on without it, so that every such
// problem is reported at once. ok is false when the document cannot be decoded
// at all (a syntax error): then nothing else about it can be said.
func decode[T any](file string, data []byte) (v T, errs []error, ok bool) {
	_, spans := positions(data)
	for range maxValueErrors {
		v = *new(T)
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err := dec.Decode(&v)
		var strict *toml.StrictMissingError
		var derr *toml.DecodeError
		switch {
		case err == nil:
			return v, errs, true
		case errors.As(err, &strict):
			for _, e := range strict.Errors {
				row, _ := e.Position()
				errs = append(errs, &Problem{File: file, Line: row, Key: strings.Join(e.Key(), "."),
					Msg: "unknown key" + suggest(reflect.TypeFor[T](), e.Key())})
			}
			return v, errs, true
		case errors.As(err, &derr):
			row, col := derr.Position()
			if s, found := spanAt(spans, derr.Key(), row); found {
				// A value the schema cannot hold: report it, drop it, decode the rest.
				errs = append(errs, &Problem{File: file, Line: row, Key: strings.Join(derr.Key(), "."), Msg: valueMsg(derr)})
				data = blank(data, s)
				continue
			}
			// No key: a syntax error's key may be relative to its table, and
			// the message names it anyway.
			errs = append(errs, &Problem{File: file, Line: row, Column: col,
				Msg: strings.TrimPrefix(derr.Error(), "toml: ") + " (fix the TOML syntax)"})
		default:
			errs = append(errs, &Problem{File: file, Msg: err.Error()})
		}
		return v, errs, false
	}
	errs = append(errs, &Problem{File: file, Msg: fmt.Sprintf("more than %d values of the wrong type; stopped here", maxValueErrors)})
	return v, errs, false
}

var mismatch = regexp.MustCompile(`cannot decode TOML (.+?) into .* of type (\S+)`)

// valueMsg says in TOML's words what a value is and what it should be.
func valueMsg(derr *toml.DecodeError) string {
	msg := strings.TrimPrefix(derr.Error(), "toml: ")
	m := mismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	return fmt.Sprintf("%s where %s is expected", article(strings.ToLower(m[1])), tomlType(m[2]))
}

// article puts "a" or "an" before a type name.
func article(s string) string {
	if strings.ContainsAny(s[:1], "aeiou") {
		return "an " + s
	}
	return "a " + s
}

// tomlType names a Go type of the raw structs the way a TOML author knows it.
func tomlType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		elem := strings.TrimPrefix(strings.TrimPrefix(tomlType(goType[2:]), "an "), "a ")
		return "an array of " + elem + "s"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "config.raw"):
		return "a table"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "bool", goType == "*bool":
		return "a boolean (true or false)"
	case goType == "string":
		return "a string"
	}
	return article(goType)
}

// suggest returns ` (did you mean "x"?)` when a key of the table holding the
// unknown key is a likely intended spelling, else "".
func suggest(root reflect.Type, key []string) string {
	name := key[len(key)-1]
	best, bestD := "", 3
	if len(name) <= 4 {
		bestD = 2
	}
	for _, k := range tableKeys(root, key[:len(key)-1]) {
		if d := distance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (remove it; see config.example.toml for every key)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// tableKeys returns the keys allowed in the table at path of a raw type:
// struct fields by their toml tag; a map's key stands for any name.
func tableKeys(t reflect.Type, path []string) []string {
	for {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t.Kind() == reflect.Map && len(path) > 0:
			t, path = t.Elem(), path[1:]
			continue
		case t.Kind() == reflect.Struct && len(path) > 0:
			f, ok := fieldByTag(t, path[0])
			if !ok {
				return nil
			}
			t, path = f.Type, path[1:]
			continue
		case t.Kind() == reflect.Struct:
			var keys []string
			for i := range t.NumField() {
				if f := t.Field(i); f.Anonymous && tomlTag(f) == "" {
					keys = append(keys, tableKeys(f.Type, nil)...) // an embedded struct's keys are the table's
					continue
				}
				// A refused key is accepted only to be refused; never suggest it.
				if tag := tomlTag(t.Field(i)); tag != "" && !refusedKeys[tag] {
					keys = append(keys, tag)
				}
			}
			return keys
		}
		return nil
	}
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tomlTag(t.Field(i)) == tag {
			return t.Field(i), true
		}
		if f := t.Field(i); f.Anonymous && tomlTag(f) == "" {
			if ef, ok := fieldByTag(f.Type, tag); ok {
				return ef, true
			}
		}
	}
	return reflect.StructField{}, false
}

func tomlTag(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return tag
}

// distance is the Levenshtein distance of two short keys.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
