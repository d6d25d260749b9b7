package verdict

import (
	"slices"
	"strings"
)

// The X-Spam-* fields (X-Spam-Status, X-Spam-Flag, X-Spam-Score, X-Spam and
// X-Spam-Checker-Version) are written by SpamAssassin, by amavis (which runs
// SpamAssassin), by rspamd's milter_headers module and by others, so one rule
// picks their owner (see xspamOwner), and that filter's verdict reads them all
// (readXSpamGroup). Two exceptions: X-Spam-Score is Fastmail's next to a
// Fastmail marker (see fastmailMarkers), and X-Spam is rspamd's whenever
// rspamd left fields (its milter adds "X-Spam: Yes" on "add header").
//
// X-Spam-Level ("*******") and X-Spam-Report are not read: the level only
// repeats the score, rounded down, and the report is free text for people.

// xspamOwner returns the Filter whose verdict reads the X-Spam-* fields:
//   - the writer of the topmost X-Spam-Status, told by its content (see
//     spamStatus.dialect);
//   - else "rspamd" when rspamd left fields;
//   - else "spamassassin" when X-Spam-Checker-Version names it;
//   - else "generic": a filter that does not name itself.
func (h *spamHeader) xspamOwner() string {
	if h.status != nil {
		return h.status.dialect(h.rspamd)
	}
	if h.rspamd {
		return "rspamd"
	}
	if _, ok := h.peek("x-spam-checker-version"); ok {
		return "spamassassin"
	}
	return "generic"
}

// readXSpamGroupOwner reads the verdict of the X-Spam-* fields when their
// owner is not rspamd, whose reader reads them with its own fields.
func readXSpamGroupOwner(h *spamHeader) (SpamVerdict, bool) {
	if h.owner == "rspamd" {
		return SpamVerdict{}, false
	}
	b := newSpamBuilder(h, h.owner)
	readXSpamGroup(b)
	return b.finish()
}

// readXSpamGroup reads the X-Spam-* fields into b, whose filter owns them.
//
// Spam comes from the Yes or No that starts X-Spam-Status, which is the
// filter's own judgement (SpamAssassin: score >= required; amavis: score >=
// its tag2 level; rspamd: an action other than "no action" or "greylist").
// Without it, X-Spam-Flag (YES or NO) decides, then X-Spam (Yes or No); a
// lower-ranked field that disagrees is reported in Err. With none of them Spam
// is unknown: a score alone is not compared with any threshold.
//
// Score is X-Spam-Status's score= (hits= before SpamAssassin 3.0), else the
// leading number of X-Spam-Score ("7.3", or Exim's "-1.7 (-)"). Threshold is
// required=. Tests come from tests=, as SpamAssassin writes them
// ("BAYES_99,HTML_MESSAGE", "none" for no rule) or amavis does
// ("[BAYES_00=-1.9, DKIM_SIGNED=0.1]"). Every other key=value of X-Spam-Status
// goes to Details, its key in upper case (AUTOLEARN, AUTOLEARN_FORCE, VERSION,
// TAGGED_ABOVE), and X-Spam-Checker-Version to CHECKER-VERSION.
func readXSpamGroup(b *spamBuilder) {
	h := b.h
	if _, ok := b.get("x-spam-status"); ok {
		applySpamStatus(b, "X-Spam-Status", *h.status, []string{"score", "hits"}, "required")
	}
	if v, ok := b.get("x-spam-flag"); ok {
		b.yesNo("X-Spam-Flag", v)
	}
	if !h.fastmail {
		if v, ok := b.get("x-spam-score"); ok {
			b.score("X-Spam-Score", firstWord(v))
		}
	}
	if !h.rspamd {
		if v, ok := b.get("x-spam"); ok {
			b.yesNo("X-Spam", v)
		}
	}
	if v, ok := b.get("x-spam-checker-version"); ok {
		b.detail("CHECKER-VERSION", v)
	}
}

// applySpamStatus puts a parsed status field into b: its Yes or No as a claim,
// the first of scoreKeys as Score, thresholdKey as Threshold, its tests, and
// every other key in Details.
func applySpamStatus(b *spamBuilder, source string, st spamStatus, scoreKeys []string, thresholdKey string) {
	for _, e := range st.errs {
		b.errs.add("%s: %s", source, e)
	}
	b.claim(source, st.spam)
	for _, k := range scoreKeys {
		if v, ok := st.get(k); ok {
			b.score(source, v)
			break
		}
	}
	if v, ok := st.get(thresholdKey); ok {
		b.threshold(source, v)
	}
	for _, t := range st.tests {
		name, score, _ := strings.Cut(t, "=")
		b.test(source, name, score)
	}
	for _, p := range st.pairs {
		if p.key == thresholdKey || p.key == "tests" || slices.Contains(scoreKeys, p.key) {
			continue
		}
		b.detail(p.key, p.value)
	}
}

// spamStatus is a parsed status field in the style SpamAssassin set:
// "Yes, score=7.3 required=5.0 tests=A,B autolearn=no version=4.0.0".
// Barracuda's X-Barracuda-Spam-Status and rspamd's X-Spam-Status follow it.
type spamStatus struct {
	spam      string   // SpamYes, SpamNo, or "" when the value starts with neither
	pairs     []kv     // key=value pairs in order, keys in lower case; tests= too
	tests     []string // items of tests=, as "NAME" or "NAME=score"
	bracketed bool     // tests= was a [list], as amavis writes it
	errs      []string
}

type kv struct{ key, value string }

func (st *spamStatus) get(key string) (string, bool) {
	for _, p := range st.pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// dialect names the filter that wrote a X-Spam-Status value:
//   - "amavis" for a bracketed test list or tagged_above=, which only amavis
//     writes;
//   - "spamassassin" for any of required=, tests=, hits=, autolearn= or
//     version=;
//   - otherwise, as in rspamd's "Yes, score=12.50", "rspamd" when rspamd left
//     fields in the header and "spamassassin" when it did not.
func (st *spamStatus) dialect(rspamd bool) string {
	has := func(k string) bool { _, ok := st.get(k); return ok }
	switch {
	case st.bracketed || has("tagged_above"):
		return "amavis"
	case has("required") || has("tests") || has("hits") || has("autolearn") || has("version"):
		return "spamassassin"
	case rspamd:
		return "rspamd"
	}
	return "spamassassin"
}

// parseSpamStatus reads a status value. It starts with Yes or No and a comma;
// key=value pairs follow, separated by white space. Words without '=' are
// skipped, as Barracuda's "using global scores of". tests= holds a list
// separated by commas, each optionally followed by white space where the field
// was folded, or a [bracketed list]. A value that does not start with Yes or
// No is reported and its pairs are still read.
func parseSpamStatus(s string) spamStatus {
	var st spamStatus
	p := statusParser{s: s}
	p.space()
	start := p.i
	word := p.run(isLetter)
	switch {
	case strings.EqualFold(word, "yes"):
		st.spam = SpamYes
	case strings.EqualFold(word, "no"):
		st.spam = SpamNo
	default:
		st.problem("does not start with Yes or No")
		p.i = start
	}
	for {
		p.skip(func(c byte) bool { return isSpace(c) || c == ',' })
		if p.eof() {
			break
		}
		key := p.run(isKeywordByte)
		if key == "" || p.peek() != '=' {
			p.run(func(c byte) bool { return !isSpace(c) }) // a word, not a pair
			continue
		}
		p.i++ // '='
		key = strings.ToLower(key)
		var value string
		if key == "tests" {
			value = p.tests(&st)
		} else {
			value = p.run(func(c byte) bool { return !isSpace(c) && c != ',' })
		}
		if _, ok := st.get(key); ok {
			st.problem(clip(key) + "= given twice, the first counts")
			continue
		}
		st.pairs = append(st.pairs, kv{key, value})
	}
	return st
}

// problem notes what could not be read, up to maxParseErrs problems.
func (st *spamStatus) problem(msg string) {
	if len(st.errs) < maxParseErrs {
		st.errs = append(st.errs, msg)
	}
}

// statusParser reads a status value. Each of its loops consumes input on
// every turn or stops.
type statusParser struct {
	s string
	i int
}

func (p *statusParser) eof() bool { return p.i >= len(p.s) }

func (p *statusParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *statusParser) run(ok func(byte) bool) string {
	start := p.i
	for !p.eof() && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *statusParser) skip(ok func(byte) bool) { p.run(ok) }

func (p *statusParser) space() { p.skip(isSpace) }

// tests reads the list after "tests=" into st.tests and returns it as
// written. SpamAssassin's "none" is no rule.
func (p *statusParser) tests(st *spamStatus) string {
	start := p.i
	if p.peek() == '[' {
		st.bracketed = true
		end := strings.IndexByte(p.s[p.i:], ']')
		var inner string
		if end < 0 {
			st.problem("tests= list has no closing ']'")
			inner, p.i = p.s[p.i+1:], len(p.s)
		} else {
			inner, p.i = p.s[p.i+1:p.i+end], p.i+end+1
		}
		for _, t := range strings.Split(inner, ",") {
			if t = strings.Trim(t, " \t\r\n"); t != "" {
				st.tests = append(st.tests, t)
			}
		}
		return p.s[start:p.i]
	}
	for {
		if t := p.run(func(c byte) bool { return !isSpace(c) && c != ',' }); t != "" {
			st.tests = append(st.tests, t)
		}
		if p.peek() != ',' {
			break
		}
		p.i++
		p.space() // a fold after the comma
	}
	if len(st.tests) == 1 && strings.EqualFold(st.tests[0], "none") {
		st.tests = nil
	}
	return p.s[start:p.i]
}
