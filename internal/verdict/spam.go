package verdict

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SpamVerdict is what one spam filter said about a message, read from the
// header fields it stamped. It reports what the filter wrote and nothing it
// did not: Spam is "unknown" whenever the fields do not settle the question.
// Which receivers to believe is decided elsewhere; every filter found is
// reported, whoever stamped it.
//
// Each filter's reader documents its fields and how it derives Spam: see
// readXSpamGroup (SpamAssassin, amavis and generic X-Spam-* fields),
// readRspamd, readMicrosoft, readBarracuda, readFastmail, readProton,
// readMimecast and readYahoo. Gmail stamps no spam verdict in the header at
// all, so a Gmail message has none; its folder (see PlacementOf) is the only
// verdict Gmail gives.
type SpamVerdict struct {
	// Filter names the filter in lower case, stable for scripts to match on:
	// "spamassassin", "amavis", "rspamd", "microsoft", "microsoft-untrusted",
	// "barracuda", "mimecast", "fastmail", "proton", "yahoo", or "generic"
	// for X-Spam-* fields whose writer no other field names.
	Filter string
	// Spam is SpamYes, SpamNo or SpamUnknown.
	Spam string
	// Score is the filter's score, nil when it gave none or gave an
	// unreadable one. It is always finite.
	Score *float64
	// Threshold is the score at or above which the filter itself calls a
	// message spam, nil when it wrote none. It is always finite.
	Threshold *float64
	// Tests lists the rules or symbols that matched, in the order given.
	// A rule written with its score is "NAME(score)", the score as the
	// filter wrote it ("R_SPF_ALLOW(-0.20)", "BAYES_00(-1.9)"); a rule
	// written without one is "NAME". Options, such as rspamd's "[...]", are
	// left out.
	Tests []string
	// Action is the action the filter names: rspamd's "no action", "greylist",
	// "add header", "rewrite subject", "soft reject", "reject", "discard" or
	// "quarantine"; Microsoft's SFV value ("NSPM", "SPM", "SKS"...). It is ""
	// when the filter names none.
	Action string
	// Details holds other facts the filter named, keyed in upper case:
	// Microsoft's report fields as written (SCL, BCL, PCL, CAT, SFV, IPV, CIP,
	// DIR...), SpamAssassin's AUTOLEARN and VERSION, Barracuda's
	// QUARANTINE_LEVEL... Each reader lists its keys. Nil when there are none.
	Details map[string]string
	// Fields names the header fields the verdict was read from, as written
	// and in header order.
	Fields []string
	// Err describes what could not be read, and other fields of the same
	// name that were ignored; "" when all was clean. What could be read is
	// kept.
	Err string
}

// The values of SpamVerdict.Spam.
const (
	SpamYes     = "yes"
	SpamNo      = "no"
	SpamUnknown = "unknown"
)

// SpamVerdicts returns one verdict for each spam filter that left fields in
// the header, sorted by Filter; nil when there are none. Problems are
// reported in each verdict's Err, and SpamVerdicts never fails: a field it
// cannot read still yields a verdict, with Spam "unknown" unless another field
// of the filter settles it.
//
// When a field a filter writes appears more than once, as when two hops ran
// the same filter, the topmost one is read: it is the newest, written by the
// hop nearest the mailbox. The others are ignored and Err says how many.
func SpamVerdicts(fields Fields) []SpamVerdict {
	h := indexSpamFields(fields)
	var out []SpamVerdict
	for _, read := range []func(*spamHeader) (SpamVerdict, bool){
		readXSpamGroupOwner,
		readRspamd,
		readMicrosoft,
		readMicrosoftUntrusted,
		readBarracuda,
		readMimecast,
		readFastmail,
		readProton,
		readYahoo,
	} {
		if v, ok := read(h); ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b SpamVerdict) int { return strings.Compare(a.Filter, b.Filter) })
	return out
}

// spamFieldNames are the fields the readers look at, in lower case. Fields
// are indexed once, so each reader finds its own without scanning the header.
var spamFieldNames = []string{
	// X-Spam-* fields shared by SpamAssassin, amavis, rspamd and others.
	"x-spam-status", "x-spam-flag", "x-spam-score", "x-spam", "x-spam-checker-version",
	// rspamd.
	"x-spamd-result", "x-rspamd-score", "x-rspamd-action", "x-rspamd-server", "x-rspamd-queue-id",
	// Microsoft 365.
	"x-forefront-antispam-report", "x-microsoft-antispam",
	"x-forefront-antispam-report-untrusted", "x-microsoft-antispam-untrusted",
	"x-ms-exchange-organization-scl", "x-ms-exchange-organization-pcl",
	"x-microsoft-antispam-mailbox-delivery",
	// Barracuda.
	"x-barracuda-spam-status", "x-barracuda-spam-score", "x-barracuda-spam-flag",
	// Mimecast.
	"x-mimecast-spam-score", "x-mimecast-spam-signature", "x-mimecast-bulk-signature",
	// Fastmail.
	"x-spam-hits", "x-spam-known-sender", "x-spam-sender-reputation",
	// Proton.
	"x-pm-spamscore", "x-pm-origin",
	// Yahoo.
	"x-yahoofilteredbulk",
}

// fastmailMarkers are fields only Fastmail's inbound filter writes. Its
// X-Spam-score and X-Spam-hits are read as Fastmail's only next to one of
// them, since other hosts (Exim's spam ACL, for one) write fields of those
// names too. Fastmail's X-ME-* fields are not markers: Fastmail stamps them on
// mail its users send, not on mail they receive.
var fastmailMarkers = []string{"x-spam-known-sender", "x-spam-sender-reputation", "x-spam-source", "x-spam-charsets"}

// spamHeader is a header indexed for the readers.
type spamHeader struct {
	fs    Fields
	index map[string][]int // a name of spamFieldNames → positions in fs, topmost first
	// rspamd is set when any X-Rspamd-* or X-Spamd-* field is present.
	rspamd bool
	// fastmail is set when any of fastmailMarkers is present.
	fastmail bool
	// status is the topmost X-Spam-Status, parsed; nil when there is none.
	status *spamStatus
	// owner is the Filter of the verdict that reads the shared X-Spam-*
	// fields (see xspamOwner).
	owner string
}

func indexSpamFields(fs Fields) *spamHeader {
	h := &spamHeader{fs: fs, index: make(map[string][]int)}
	for i, f := range fs {
		if len(f.Name) < 2 || !strings.EqualFold(f.Name[:2], "x-") {
			continue // every field read here is an X- field
		}
		if hasPrefixFold(f.Name, "x-rspamd-") || hasPrefixFold(f.Name, "x-spamd-") {
			h.rspamd = true
		}
		for _, m := range fastmailMarkers {
			if strings.EqualFold(f.Name, m) {
				h.fastmail = true
			}
		}
		for _, n := range spamFieldNames {
			if strings.EqualFold(f.Name, n) {
				h.index[n] = append(h.index[n], i)
				break
			}
		}
	}
	if v, ok := h.peek("x-spam-status"); ok {
		st := parseSpamStatus(v)
		h.status = &st
	}
	h.owner = h.xspamOwner()
	return h
}

// peek returns the value of the topmost field called name without marking it
// read.
func (h *spamHeader) peek(name string) (string, bool) {
	if at := h.index[name]; len(at) > 0 {
		return h.fs[at[0]].Value, true
	}
	return "", false
}

// spamBuilder collects one filter's verdict as its reader goes through the
// fields.
type spamBuilder struct {
	h      *spamHeader
	v      SpamVerdict
	read   []int // positions of the fields read
	errs   problems
	claims []spamClaim
}

// spamClaim is what one field says about spam, "yes" or "no".
type spamClaim struct{ source, spam string }

func newSpamBuilder(h *spamHeader, filter string) *spamBuilder {
	return &spamBuilder{h: h, v: SpamVerdict{Filter: filter}}
}

// get returns the value of the topmost field called name (one of
// spamFieldNames) and marks it read. Lower fields of the same name are
// ignored, and Err counts them. Each reader gets a name at most once.
func (b *spamBuilder) get(name string) (string, bool) {
	at := b.h.index[name]
	if len(at) == 0 {
		return "", false
	}
	b.read = append(b.read, at[0])
	if n := len(at) - 1; n == 1 {
		b.errs.add("%s: 1 older field ignored", b.h.fs[at[0]].Name)
	} else if n > 1 {
		b.errs.add("%s: %d older fields ignored", b.h.fs[at[0]].Name, n)
	}
	return b.h.fs[at[0]].Value, true
}

// claim records what source says about spam; "" says nothing. The first
// claim decides, so readers claim in order of authority; a later claim that
// disagrees is reported in Err.
func (b *spamBuilder) claim(source, spam string) {
	if spam != "" {
		b.claims = append(b.claims, spamClaim{source, spam})
	}
}

// yesNo claims for source when value is a yes or a no in any case, as the
// flag fields write them ("YES", "Yes", "NO"), and reports anything else.
func (b *spamBuilder) yesNo(source, value string) {
	switch strings.ToLower(firstWord(value)) {
	case "yes":
		b.claim(source, SpamYes)
	case "no":
		b.claim(source, SpamNo)
	default:
		b.errs.add("%s: %q is neither yes nor no", source, clip(value))
	}
}

// score sets Score from text unless an earlier field set it.
func (b *spamBuilder) score(source, text string) {
	if b.v.Score != nil {
		return
	}
	f, err := parseScore(text)
	if err != nil {
		b.errs.add("%s: score %v", source, err)
		return
	}
	b.v.Score = &f
}

// threshold sets Threshold from text unless an earlier field set it.
func (b *spamBuilder) threshold(source, text string) {
	if b.v.Threshold != nil {
		return
	}
	f, err := parseScore(text)
	if err != nil {
		b.errs.add("%s: threshold %v", source, err)
		return
	}
	b.v.Threshold = &f
}

// test appends a rule, with its score when it has a readable one.
func (b *spamBuilder) test(source, name, score string) {
	if score == "" {
		b.v.Tests = append(b.v.Tests, name)
		return
	}
	if _, err := parseScore(score); err != nil {
		b.errs.add("%s: rule %s: score %v", source, clip(name), err)
		b.v.Tests = append(b.v.Tests, name)
		return
	}
	b.v.Tests = append(b.v.Tests, name+"("+score+")")
}

// detail sets Details[key] (key in upper case) unless value is empty or an
// earlier field set the key.
func (b *spamBuilder) detail(key, value string) {
	if value == "" {
		return
	}
	key = strings.ToUpper(key)
	if _, ok := b.v.Details[key]; ok {
		return
	}
	if b.v.Details == nil {
		b.v.Details = make(map[string]string)
	}
	b.v.Details[key] = value
}

// finish decides Spam from the claims and returns the verdict, with ok false
// when the reader read no field.
func (b *spamBuilder) finish() (SpamVerdict, bool) {
	if len(b.read) == 0 {
		return SpamVerdict{}, false
	}
	b.v.Spam = SpamUnknown
	if len(b.claims) > 0 {
		first := b.claims[0]
		b.v.Spam = first.spam
		for _, c := range b.claims[1:] {
			if c.spam != first.spam {
				b.errs.add("%s says %s but %s says %s; %s counts", c.source, c.spam, first.source, first.spam, first.source)
			}
		}
	}
	slices.Sort(b.read)
	for _, i := range slices.Compact(b.read) {
		b.v.Fields = append(b.v.Fields, b.h.fs[i].Name)
	}
	b.v.Err = b.errs.String()
	return b.v, true
}

// problems collects what could not be read, at most maxParseErrs of them (the
// rest are counted), so that Err stays short however broken the input.
type problems struct {
	list []string
	more int
}

func (p *problems) add(format string, args ...any) {
	if len(p.list) == maxParseErrs {
		p.more++
		return
	}
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) String() string {
	s := strings.Join(p.list, "; ")
	if p.more > 0 {
		s += fmt.Sprintf("; and %d more problems", p.more)
	}
	return s
}

// parseScore reads a score as filters write it: an optional sign, digits and
// an optional decimal point ("7.3", "-0.20", "+1", "12."). It refuses all
// else, NaN, infinities, exponents and hex included: no filter writes them,
// so they mean a broken or forged field. A number too large for a float64 is
// refused too, so a score is always finite.
func parseScore(s string) (float64, error) {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
		case c == '.', (c == '-' || c == '+') && i == 0:
		default:
			digits = -1
			i = len(s)
		}
	}
	if digits <= 0 {
		return 0, fmt.Errorf("%q is not a number", clip(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, fmt.Errorf("%q is not a number", clip(s))
	}
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is out of range", clip(s))
	}
	return f, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// firstWord returns the first run of non-space bytes of s.
func firstWord(s string) string {
	s = strings.TrimLeft(s, " \t\r\n")
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
