package verdict

import "strings"

// rspamdActions maps each action rspamd names (rspamd_action_to_str) to what
// it says about spam, the way rspamd's own milter_headers module writes
// X-Spam-Status: every action but "no action" and "greylist" is a Yes.
var rspamdActions = map[string]string{
	"no action":       SpamNo,
	"greylist":        SpamNo,
	"add header":      SpamYes,
	"rewrite subject": SpamYes,
	"soft reject":     SpamYes,
	"reject":          SpamYes,
	"discard":         SpamYes,
	"quarantine":      SpamYes,
}

// readRspamd reads the fields rspamd's milter_headers module and its milter
// write, when any X-Rspamd-* or X-Spamd-* field is present:
//
//	X-Spamd-Result: default: False [2.40 / 15.00]; R_SPF_ALLOW(-0.20)[+ip4:192.0.2.0/24]; ...
//	X-Rspamd-Action: add header
//	X-Rspamd-Score: 2.4
//	X-Rspamd-Server: mx1.example.net
//	X-Rspamd-Queue-Id: 4Xyz123
//	X-Spam-Status: Yes, score=12.50  (when rspamd owns the X-Spam-* fields, see xspamOwner)
//	X-Spam: Yes                      (the milter's header on "add header")
//
// Spam comes first from X-Rspamd-Action (see rspamdActions), then from
// X-Spam-Status's Yes or No, then from X-Spam, then from X-Spamd-Result.
// X-Spamd-Result says "True" only when the action is "reject"; its "False"
// means "not rejected", not "not spam" (a message rspamd put an "add header"
// on reads False), so it never makes Spam "no" by itself. A message with
// nothing but X-Spamd-Result "False" is unknown.
//
// Score is X-Spamd-Result's, else X-Rspamd-Score, else X-Spam-Status's.
// Threshold is the second number of X-Spamd-Result's "[score / threshold]":
// rspamd's required score, the highest action threshold, which in a default
// setup is the reject threshold (15), not the add-header one (6). Tests are
// the symbols of X-Spamd-Result with their scores. Action is X-Rspamd-Action.
// Details: SERVER (X-Rspamd-Server) and QUEUE-ID (X-Rspamd-Queue-Id).
func readRspamd(h *spamHeader) (SpamVerdict, bool) {
	if !h.rspamd {
		return SpamVerdict{}, false
	}
	b := newSpamBuilder(h, "rspamd")
	if v, ok := b.get("x-rspamd-action"); ok {
		action := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "_", " ")
		spam, known := rspamdActions[action]
		if !known {
			b.errs.add("X-Rspamd-Action: unknown action %q", clip(v))
		}
		b.v.Action = action
		b.claim("X-Rspamd-Action", spam)
	}
	var rejected bool
	if v, ok := b.get("x-spamd-result"); ok {
		rejected = readSpamdResult(b, v)
	}
	if v, ok := b.get("x-rspamd-score"); ok {
		b.score("X-Rspamd-Score", firstWord(v))
	}
	if h.owner == "rspamd" {
		readXSpamGroup(b)
	}
	if v, ok := b.get("x-spam"); ok {
		b.yesNo("X-Spam", v)
	}
	if rejected {
		b.claim("X-Spamd-Result", SpamYes)
	}
	if v, ok := b.get("x-rspamd-server"); ok {
		b.detail("SERVER", v)
	}
	if v, ok := b.get("x-rspamd-queue-id"); ok {
		b.detail("QUEUE-ID", v)
	}
	return b.finish()
}

// readSpamdResult reads an X-Spamd-Result value into b and reports whether
// it says True. The value is "metric: True|False [score / threshold]"
// followed by symbols, each introduced by ';': NAME(score)[options]. Options
// may hold anything, ';' included, so they end at the ']' that is followed by
// ';' or by the end of the value.
func readSpamdResult(b *spamBuilder, s string) (rejected bool) {
	const source = "X-Spamd-Result"
	first, _, _ := strings.Cut(s, ";") // the head: "metric: True|False [score / threshold]"
	metric, head, ok := strings.Cut(first, ":")
	if !ok || strings.TrimSpace(metric) == "" {
		b.errs.add("%s: no \"metric:\" at the start", source)
	}
	switch word := strings.TrimRight(firstWord(head), "["); {
	case strings.EqualFold(word, "true"):
		rejected = true
	case strings.EqualFold(word, "false"):
	default:
		b.errs.add("%s: %q is neither True nor False", source, clip(word))
	}
	open := strings.IndexByte(head, '[')
	closing := strings.LastIndexByte(head, ']')
	switch {
	case open < 0:
		b.errs.add("%s: no [score / threshold]", source)
	case closing < open:
		b.errs.add("%s: [score / threshold] has no closing ']'", source)
	default:
		score, threshold, ok := strings.Cut(head[open+1:closing], "/")
		b.score(source, strings.TrimSpace(score))
		if !ok {
			b.errs.add("%s: no threshold after the score", source)
		} else {
			b.threshold(source, strings.TrimSpace(threshold))
		}
	}
	readSpamdSymbols(b, source, s, len(first))
	return rejected
}

// readSpamdSymbols reads the ';'-separated symbols of an X-Spamd-Result
// value s, from start, the end of its head.
func readSpamdSymbols(b *spamBuilder, source, s string, start int) {
	p := statusParser{s: s, i: start}
	for {
		p.skip(func(c byte) bool { return isSpace(c) || c == ';' })
		if p.eof() {
			return
		}
		name := p.run(func(c byte) bool { return !isSpace(c) && c != ';' && c != '(' && c != '[' })
		if name == "" {
			b.errs.add("%s: offset %d: expected a symbol, found %q", source, p.i, clip(p.s[p.i:]))
			p.skip(func(c byte) bool { return c != ';' })
			continue
		}
		p.space()
		var score string
		if p.peek() == '(' {
			end := strings.IndexByte(p.s[p.i:], ')')
			if end < 0 {
				b.errs.add("%s: symbol %s: score has no closing ')'", source, clip(name))
				b.test(source, name, "")
				return
			}
			score, p.i = strings.TrimSpace(p.s[p.i+1:p.i+end]), p.i+end+1
			if score == "" {
				b.errs.add("%s: symbol %s: empty score", source, clip(name))
			}
			p.space()
		}
		b.test(source, name, score)
		if p.peek() == '[' {
			end := optionsEnd(p.s, p.i)
			if end < 0 {
				b.errs.add("%s: symbol %s: options have no closing ']'", source, clip(name))
				return
			}
			p.i = end + 1
			p.space()
		}
		if !p.eof() && p.peek() != ';' {
			b.errs.add("%s: symbol %s: unexpected %q", source, clip(name), clip(p.s[p.i:]))
			p.skip(func(c byte) bool { return c != ';' })
		}
	}
}

// optionsEnd returns the position of the ']' that closes the options opened
// at s[open]: the first one followed, after white space, by ';' or the end of
// s. It returns -1 when there is none.
func optionsEnd(s string, open int) int {
	for i := open + 1; i < len(s); i++ {
		if s[i] != ']' {
			continue
		}
		after := strings.TrimLeft(s[i+1:], " \t\r\n")
		if after == "" || after[0] == ';' {
			return i
		}
	}
	return -1
}
