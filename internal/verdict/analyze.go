package verdict

import (
	"errors"
	"fmt"
)

// Analysis is what one message's header says about how it travelled and how
// its receiver judged it.
type Analysis struct {
	Auth Auth
	// Errors lists what could not be parsed, and where; the rest of the
	// analysis stands without it.
	Errors []string
}

// ErrNotAMessage is returned by Analyze for input with no header field at all.
var ErrNotAMessage = errors.New("not a message: no header fields")

// Analyze reads a message's header block (a whole message is fine: reading
// stops at the first empty line) and analyses it, trusting Authentication-
// Results as trust says. It fails only when the input has no header field at
// all; every other problem is listed in Errors.
func Analyze(header []byte, trust Trust) (Analysis, error) {
	fields, errs := ReadFields(header)
	if len(fields) == 0 {
		return Analysis{Errors: errs}, ErrNotAMessage
	}
	a := Analysis{Errors: errs, Auth: Authenticate(fields, trust)}
	for i, h := range a.Auth.Headers {
		if h.Err != "" {
			a.Errors = append(a.Errors, fmt.Sprintf("Authentication-Results #%d (%s): %s", i+1, orNoID(h.AuthservID), h.Err))
		}
	}
	for i, h := range a.Auth.ARCResults {
		if h.Err != "" {
			a.Errors = append(a.Errors, fmt.Sprintf("ARC-Authentication-Results #%d (i=%d): %s", i+1, h.Instance, h.Err))
		}
	}
	return a, nil
}

func orNoID(id string) string {
	if id == "" {
		return "no authserv-id"
	}
	return id
}
