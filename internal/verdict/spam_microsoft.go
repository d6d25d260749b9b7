package verdict

import (
	"slices"
	"strconv"
	"strings"
)

// microsoftSFV maps the spam filtering verdicts (SFV) Microsoft documents in
// "Anti-spam message headers in Microsoft 365" to what they say about spam.
// Values left out say nothing by themselves, and SCL decides:
//   - SKI: intra-organization mail, marked by content with SCL 1 or 5 to 9;
//   - SKQ: released from quarantine, after being judged.
var microsoftSFV = map[string]string{
	"SPM":  SpamYes, // marked as spam by spam filtering
	"SKS":  SpamYes, // marked as spam before filtering, e.g. by a mail flow rule
	"SKB":  SpamYes, // sender on the anti-spam policy's blocked senders or domains
	"BLK":  SpamYes, // sender on the user's Blocked Senders list; filtering skipped
	"NSPM": SpamNo,  // marked as non-spam by spam filtering
	"SFE":  SpamNo,  // sender on the user's Safe Senders list; filtering skipped
	"SKA":  SpamNo,  // sender on the policy's allowed senders or domains; delivered to the inbox
	"SKN":  SpamNo,  // marked as non-spam before filtering, e.g. SCL -1 by a mail flow rule
	"SKI":  "",
	"SKQ":  "",
}

// microsoftSpamSCL is the spam confidence level (SCL) from which Microsoft
// treats a message as spam: "5, 6: spam; 8, 9: high confidence spam", and a
// mail flow rule setting 5 or more triggers the spam action. -1 means
// filtering was skipped (a safe sender, the IP Allow List), and the message
// goes to the inbox, so it counts as not spam, as 0 and 1 do.
const microsoftSpamSCL = 5

// readMicrosoft reads what Exchange Online Protection stamps on mail a
// Microsoft 365 or Outlook.com mailbox receives:
//
//	X-Forefront-Antispam-Report: CIP:192.0.2.1;CTRY:US;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM;H:mail.example.com;...;DIR:INB;
//	X-Microsoft-Antispam: BCL:0;ARA:...
//	X-MS-Exchange-Organization-SCL: 1
//	X-MS-Exchange-Organization-PCL: 2
//	X-Microsoft-Antispam-Mailbox-Delivery: ucf:0;jmr:0;auth:0;dest:I;...
//
// Spam comes from SCL, on which Microsoft acts: 5 or more is spam, -1 to 4
// is not (see microsoftSpamSCL). Without an SCL, SFV decides (see
// microsoftSFV); when both speak and disagree, SCL counts and Err says so.
// BCL (bulk complaint level) does not decide: its threshold is set per
// organization, and bulk mail over it is given SCL 6 anyway.
//
// Score is the SCL and Threshold is 5, so that a script can compare them as it
// does other filters' scores. Action is the SFV value.
//
// Details holds every non-empty KEY:value of X-Forefront-Antispam-Report
// (CIP, CTRY, LANG, SCL, SRV, IPV, SFV, H, PTR, CAT, SFTY, SFS, DIR, SFP...)
// and of X-Microsoft-Antispam (BCL, ARA...), the first of a key counting; SCL
// and PCL from the X-MS-Exchange-Organization-* fields when the report has
// none (Err notes an SCL that differs); and DEST, the "dest" of
// X-Microsoft-Antispam-Mailbox-Delivery: I for the inbox, J for Junk Email, C
// for a folder a user's rule chose. DIR tells an inbound report (INB) from the
// sending organization's outbound one (OUT).
func readMicrosoft(h *spamHeader) (SpamVerdict, bool) {
	b := newSpamBuilder(h, "microsoft")
	if v, ok := b.get("x-forefront-antispam-report"); ok {
		microsoftDetails(b, "X-Forefront-Antispam-Report", v)
	}
	if v, ok := b.get("x-microsoft-antispam"); ok {
		microsoftDetails(b, "X-Microsoft-Antispam", v)
	}
	for _, key := range []string{"SCL", "PCL"} {
		name := "X-MS-Exchange-Organization-" + key
		v, ok := b.get(strings.ToLower(name))
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		v = strings.TrimSpace(v)
		if old, ok := b.v.Details[key]; ok && old != v {
			b.errs.add("%s: %q differs from the report's %s:%s", name, clip(v), key, clip(old))
		}
		b.detail(key, v)
	}
	if v, ok := b.get("x-microsoft-antispam-mailbox-delivery"); ok {
		for _, p := range microsoftPairs(b, "X-Microsoft-Antispam-Mailbox-Delivery", v) {
			if p.key == "DEST" {
				b.detail("DEST", p.value)
			}
		}
	}
	microsoftVerdict(b)
	return b.finish()
}

// readMicrosoftUntrusted reads X-Forefront-Antispam-Report-Untrusted and
// X-Microsoft-Antispam-Untrusted as the verdict "microsoft-untrusted", the
// same way readMicrosoft reads the trusted pair. These fields appear on mail
// between Microsoft 365 organizations and hold another organization's report,
// typically the sending tenant's outbound scan (DIR:OUT, often with
// CIP:255.255.255.255). They say nothing of how the receiver judged the
// message, so they are kept apart where no script can mistake them for the
// receiver's verdict.
func readMicrosoftUntrusted(h *spamHeader) (SpamVerdict, bool) {
	b := newSpamBuilder(h, "microsoft-untrusted")
	if v, ok := b.get("x-forefront-antispam-report-untrusted"); ok {
		microsoftDetails(b, "X-Forefront-Antispam-Report-Untrusted", v)
	}
	if v, ok := b.get("x-microsoft-antispam-untrusted"); ok {
		microsoftDetails(b, "X-Microsoft-Antispam-Untrusted", v)
	}
	microsoftVerdict(b)
	return b.finish()
}

// microsoftVerdict derives Score, Threshold, Action and the claims from the
// SCL and SFV in b's Details.
func microsoftVerdict(b *spamBuilder) {
	if scl, ok := b.v.Details["SCL"]; ok {
		n, err := strconv.Atoi(scl)
		if err != nil || n < -1 || n > 9 {
			b.errs.add("SCL %q is not a level from -1 to 9", clip(scl))
		} else {
			f, t := float64(n), float64(microsoftSpamSCL)
			b.v.Score, b.v.Threshold = &f, &t
			spam := SpamNo
			if n >= microsoftSpamSCL {
				spam = SpamYes
			}
			b.claim("SCL:"+scl, spam)
		}
	}
	if sfv, ok := b.v.Details["SFV"]; ok {
		b.v.Action = sfv
		spam, known := microsoftSFV[strings.ToUpper(sfv)]
		if !known {
			b.errs.add("SFV %q is not a documented verdict", clip(sfv))
		}
		b.claim("SFV:"+sfv, spam)
	}
}

// microsoftDetails puts the pairs of a report field into Details.
func microsoftDetails(b *spamBuilder, source, value string) {
	for _, p := range microsoftPairs(b, source, value) {
		b.detail(p.key, p.value)
	}
}

// microsoftPairs splits a Microsoft report value, "KEY:value;KEY:value;...",
// into its non-empty pairs, keys in upper case. Values may hold ':' (an IPv6
// CIP) and white space around the elements is dropped, since folded reports
// put some there. A key repeated is reported and its first value kept.
func microsoftPairs(b *spamBuilder, source, value string) []kv {
	var out []kv
	for _, elem := range strings.Split(value, ";") {
		elem = strings.Trim(elem, " \t\r\n")
		if elem == "" {
			continue
		}
		key, v, ok := strings.Cut(elem, ":")
		key, v = strings.ToUpper(strings.TrimSpace(key)), strings.TrimSpace(v)
		if !ok || key == "" || strings.IndexFunc(key, func(r rune) bool { return r > 0x7f || !isKeywordByte(byte(r)) }) >= 0 {
			b.errs.add("%s: %q is not a KEY:value pair", source, clip(elem))
			continue
		}
		if v == "" {
			continue
		}
		if slices.ContainsFunc(out, func(p kv) bool { return p.key == key }) {
			b.errs.add("%s: %s given twice, the first counts", source, clip(key))
			continue
		}
		out = append(out, kv{key, v})
	}
	return out
}
