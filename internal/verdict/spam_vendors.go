package verdict

import "strings"

// This file reads the filters of mail services and appliances: Barracuda,
// Mimecast, Fastmail, Proton and Yahoo. Most write a score whose threshold is
// set per customer or per user and never written down, so their verdict is
// "unknown" unless a field says more.

// readBarracuda reads what a Barracuda Email Security Gateway stamps:
//
//	X-Barracuda-Spam-Score: 0.50
//	X-Barracuda-Spam-Status: No, SCORE=0.50 using global scores of TAG_LEVEL=3.5 QUARANTINE_LEVEL=1000.0 KILL_LEVEL=6.0 tests=HTML_MESSAGE
//	X-Barracuda-Spam-Flag: NO
//
// Spam is the Yes or No of X-Barracuda-Spam-Status, else the flag. Score is
// the status's SCORE, else X-Barracuda-Spam-Score. Threshold is TAG_LEVEL,
// the score from which Barracuda tags a message as spam; 1000 is its way of
// writing "never". QUARANTINE_LEVEL and KILL_LEVEL, at which it quarantines
// or blocks, go to Details as written.
func readBarracuda(h *spamHeader) (SpamVerdict, bool) {
	b := newSpamBuilder(h, "barracuda")
	if v, ok := b.get("x-barracuda-spam-status"); ok {
		applySpamStatus(b, "X-Barracuda-Spam-Status", parseSpamStatus(v), []string{"score"}, "tag_level")
	}
	if v, ok := b.get("x-barracuda-spam-flag"); ok {
		b.yesNo("X-Barracuda-Spam-Flag", v)
	}
	if v, ok := b.get("x-barracuda-spam-score"); ok {
		b.score("X-Barracuda-Spam-Score", firstWord(v))
	}
	return b.finish()
}

// readMimecast reads what Mimecast stamps:
//
//	X-Mimecast-Spam-Score: 12
//	X-Mimecast-Spam-Signature: yes
//	X-Mimecast-Bulk-Signature: yes
//
// Spam is always unknown: Mimecast holds or rejects by a detection level each
// customer sets (messages from 28 up are rejected during SMTP, so never
// seen), and publishes no threshold a score could be compared with. The
// signature fields ("yes", "no", "bulk") go to Details as SPAM-SIGNATURE and
// BULK-SIGNATURE; they appear on ordinary list mail too, so they decide
// nothing. Mimecast also stamps mail its customers send, so the score may be
// the sending side's.
func readMimecast(h *spamHeader) (SpamVerdict, bool) {
	b := newSpamBuilder(h, "mimecast")
	if v, ok := b.get("x-mimecast-spam-score"); ok {
		b.score("X-Mimecast-Spam-Score", firstWord(v))
	}
	if v, ok := b.get("x-mimecast-spam-signature"); ok {
		b.detail("SPAM-SIGNATURE", strings.TrimSpace(v))
	}
	if v, ok := b.get("x-mimecast-bulk-signature"); ok {
		b.detail("BULK-SIGNATURE", strings.TrimSpace(v))
	}
	return b.finish()
}

// readFastmail reads what Fastmail's inbound filter stamps, when one of
// fastmailMarkers is present:
//
//	X-Spam-known-sender: yes ("Address bob@example.com in From header is in addressbook")
//	X-Spam-sender-reputation: 500 (none)
//	X-Spam-score: 0.0
//	X-Spam-hits: BAYES_00 -1.9, DKIM_SIGNED 0.1, ..., LANGUAGES en, BAYES_USED global, SA_VERSION 3.4.2
//
// Fastmail files a message as spam when its score reaches the user's own
// threshold (5 by default; the user may change it), which is not written, so
// the score alone leaves Spam unknown. A known sender is "no": the rules
// Fastmail generates never file mail from a sender in the user's address book
// as spam. Tests are the hits with a score; hits whose value is not a number
// (LANGUAGES, BAYES_USED, SA_VERSION) go to Details. KNOWN-SENDER is the first
// word of X-Spam-known-sender and SENDER-REPUTATION the first of
// X-Spam-sender-reputation.
func readFastmail(h *spamHeader) (SpamVerdict, bool) {
	if !h.fastmail {
		return SpamVerdict{}, false
	}
	b := newSpamBuilder(h, "fastmail")
	if v, ok := b.get("x-spam-known-sender"); ok {
		known := strings.ToLower(strings.TrimRight(firstWord(v), ";,"))
		b.detail("KNOWN-SENDER", known)
		if known == "yes" {
			b.claim("X-Spam-known-sender", SpamNo)
		}
	}
	if v, ok := b.get("x-spam-score"); ok {
		b.score("X-Spam-score", firstWord(v))
	}
	if v, ok := b.get("x-spam-hits"); ok {
		readFastmailHits(b, v)
	}
	if v, ok := b.get("x-spam-sender-reputation"); ok {
		b.detail("SENDER-REPUTATION", firstWord(v))
	}
	return b.finish()
}

// readFastmailHits reads "NAME score, NAME score, ..., LANGUAGES en, ...".
func readFastmailHits(b *spamBuilder, s string) {
	const source = "X-Spam-hits"
	for _, item := range strings.Split(s, ",") {
		words := strings.Fields(item)
		switch {
		case len(words) == 0:
		case len(words) == 1:
			b.test(source, words[0], "")
		case len(words) > 2:
			b.errs.add("%s: %q is not \"NAME score\"", source, clip(strings.TrimSpace(item)))
		default:
			if _, err := parseScore(words[1]); err == nil {
				b.test(source, words[0], words[1])
			} else {
				b.detail(words[0], words[1])
			}
		}
	}
}

// readProton reads X-Pm-Spamscore, which Proton Mail stamps on every message
// ("0", "3"). Proton documents neither its scale nor a threshold, so Spam is
// unknown and the score is only reported. X-Pm-Origin ("internal",
// "external", "import") goes to Details as ORIGIN. Proton's X-Pm-Spam holds
// an opaque token and is not read.
func readProton(h *spamHeader) (SpamVerdict, bool) {
	if _, ok := h.peek("x-pm-spamscore"); !ok {
		return SpamVerdict{}, false
	}
	b := newSpamBuilder(h, "proton")
	if v, ok := b.get("x-pm-spamscore"); ok {
		b.score("X-Pm-Spamscore", firstWord(v))
	}
	if v, ok := b.get("x-pm-origin"); ok {
		b.detail("ORIGIN", strings.TrimSpace(v))
	}
	return b.finish()
}

// readYahoo reads X-YahooFilteredBulk, which Yahoo Mail stamps, with the
// connecting IP address as its value, on the mail it sends to the Bulk (spam)
// folder; mail clients' filters match on it to mimic that folder. Its
// presence is "yes", and the address goes to Details as IP. Its absence says
// nothing, so Yahoo gives no "no". Public material shows no other readable
// Yahoo or AOL verdict (X-YMail-OSG, X-YMailISG and X-Yahoo-Newman-Property
// are not verdicts), and recent Yahoo mail may lack even this field: the
// folder a message was found in (see PlacementOf) is the reliable verdict.
func readYahoo(h *spamHeader) (SpamVerdict, bool) {
	b := newSpamBuilder(h, "yahoo")
	if v, ok := b.get("x-yahoofilteredbulk"); ok {
		b.claim("X-YahooFilteredBulk", SpamYes)
		b.detail("IP", strings.TrimSpace(v))
	}
	return b.finish()
}
