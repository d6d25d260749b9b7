package verdict

import (
	"errors"
	"fmt"
	"time"
)

// Analysis is what one message's header says about how it travelled and how
// its receiver judged it.
type Analysis struct {
	Auth Auth
	// Hops are the Received fields, oldest first, with the delay between them.
	Hops []Hop
	// Errors lists what could not be parsed, and where; the rest of the
	// analysis stands without it.
	Errors []string
}

// ErrNotAMessage is returned by Analyze for input with no header field at all.
var ErrNotAMessage = errors.New("not a message: no header fields")

// Analyze reads a message's header block (a whole message is fine: reading
// stops at the first empty line) and analyses it, trusting Authentication-
// Results as trust says. submitted, when not zero, is when the message was
// submitted: the first hop's delay counts from it. It fails only when the
// input has no header field at all; every other problem is listed in Errors.
func Analyze(header []byte, trust Trust, submitted time.Time) (Analysis, error) {
	fields, errs := ReadFields(header)
	if len(fields) == 0 {
		return Analysis{Errors: errs}, ErrNotAMessage
	}
	a := Analysis{Errors: errs, Auth: Authenticate(fields, trust), Hops: Hops(fields.Values("Received"), submitted)}
	for i, h := range a.Hops {
		if h.Err != "" {
			a.Errors = append(a.Errors, fmt.Sprintf("Received hop %d of %d (by %s): %s", i+1, len(a.Hops), orUnknown(h.By), h.Err))
		}
	}
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

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func orNoID(id string) string {
	if id == "" {
		return "no authserv-id"
	}
	return id
}
