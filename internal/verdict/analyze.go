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
	// Spam holds every spam filter's verdict found in the header, whoever
	// stamped it; Filtered is the first whose filter the trust names (nil
	// when none): the receiver's own judgement.
	Spam     []SpamVerdict
	Filtered *SpamVerdict
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
	a := Analysis{Errors: errs, Auth: Authenticate(fields, trust), Hops: Hops(fields.Values("Received"), submitted),
		Spam: SpamVerdicts(fields)}
	if n := len(fields.Values("From")); n != 1 {
		// RFC 5322 section 3.6 allows one; with none or two, alignment and
		// DMARC have no single domain to judge (RFC 7489 section 6.6.1).
		a.Errors = append(a.Errors, fmt.Sprintf("the header has %d From fields, not one: the From domain is uncertain", n))
	}
	for i, v := range a.Spam {
		if v.Err != "" {
			a.Errors = append(a.Errors, fmt.Sprintf("spam filter %s: %s", v.Filter, v.Err))
		}
		if a.Filtered == nil && containsFold(trust.SpamFilters, v.Filter) {
			a.Filtered = &a.Spam[i]
		}
	}
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
	if a.Auth.ARCErr != "" {
		a.Errors = append(a.Errors, a.Auth.ARCErr)
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
