package verdict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fp(f float64) *float64 { return &f }

// spamFields builds a header block from lines; a line starting with white
// space continues the field above, as in a message.
func spamFields(t *testing.T, lines ...string) Fields {
	t.Helper()
	fs, errs := ReadFields([]byte(strings.Join(lines, "\r\n") + "\r\n\r\n"))
	if len(lines) > 0 && len(errs) > 0 {
		t.Fatalf("ReadFields: %v", errs)
	}
	return fs
}

func TestSpamVerdicts(t *testing.T) {
	const (
		rspamdServer = "X-Rspamd-Server: mx1.example.org"
		report       = "X-Forefront-Antispam-Report: CIP:192.0.2.1;CTRY:US;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM;H:mail.example.com;PTR:mail.example.com;CAT:NONE;DIR:INB;"
	)
	msDetails := map[string]string{"CIP": "192.0.2.1", "CTRY": "US", "LANG": "en", "SCL": "1", "IPV": "NLI", "SFV": "NSPM", "H": "mail.example.com", "PTR": "mail.example.com", "CAT": "NONE", "DIR": "INB"}
	// Each want is compared whole but for Err, which must contain the
	// want's Err ("" wants none), and Fields, checked only when set.
	for _, tc := range []struct {
		name   string
		header []string
		want   []SpamVerdict
	}{
		// SpamAssassin.
		{
			name: "spamassassin ham with a folded test list",
			header: []string{
				"X-Spam-Checker-Version: SpamAssassin 4.0.0 (2022-12-13) on mx.example.org",
				"X-Spam-Status: No, score=-0.1 required=5.0 tests=DKIM_SIGNED,DKIM_VALID,",
				"\tHTML_MESSAGE,SPF_PASS,", "\tURIBL_BLOCKED autolearn=ham autolearn_force=no version=4.0.0",
			},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "no", Score: fp(-0.1), Threshold: fp(5),
				Tests:   []string{"DKIM_SIGNED", "DKIM_VALID", "HTML_MESSAGE", "SPF_PASS", "URIBL_BLOCKED"},
				Details: map[string]string{"AUTOLEARN": "ham", "AUTOLEARN_FORCE": "no", "VERSION": "4.0.0", "CHECKER-VERSION": "SpamAssassin 4.0.0 (2022-12-13) on mx.example.org"},
				Fields:  []string{"X-Spam-Checker-Version", "X-Spam-Status"},
			}},
		},
		{
			name: "spamassassin spam with the flag",
			header: []string{
				"X-Spam-Flag: YES",
				"X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99,HTML_MESSAGE,URIBL_BLOCKED autolearn=no version=4.0.0",
			},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "yes", Score: fp(7.3), Threshold: fp(5),
				Tests:   []string{"BAYES_99", "HTML_MESSAGE", "URIBL_BLOCKED"},
				Details: map[string]string{"AUTOLEARN": "no", "VERSION": "4.0.0"},
				Fields:  []string{"X-Spam-Flag", "X-Spam-Status"},
			}},
		},
		{
			name:   "spamassassin 2.x writes hits= and tests=none",
			header: []string{"X-Spam-Status: No, hits=0.0 required=5.0 tests=none autolearn=ham version=2.63"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "no", Score: fp(0), Threshold: fp(5),
				Details: map[string]string{"AUTOLEARN": "ham", "VERSION": "2.63"},
			}},
		},
		{
			name:   "lower case and odd spacing",
			header: []string{"x-spam-status:   yes ,score=6.0    required=5.0\ttests=A_RULE,  B_RULE autolearn=no"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "yes", Score: fp(6), Threshold: fp(5),
				Tests: []string{"A_RULE", "B_RULE"}, Details: map[string]string{"AUTOLEARN": "no"},
				Fields: []string{"x-spam-status"},
			}},
		},
		{
			name:   "tests with scores, as _TESTSSCORES_ writes them",
			header: []string{"X-Spam-Status: Yes, score=9.5 required=5.0 tests=BAYES_99=3.5,URIBL_BLACK=1.7,RDNS_NONE=1.274"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "yes", Score: fp(9.5), Threshold: fp(5),
				Tests: []string{"BAYES_99(3.5)", "URIBL_BLACK(1.7)", "RDNS_NONE(1.274)"},
			}},
		},
		{
			name:   "negative score",
			header: []string{"X-Spam-Status: No, score=-12.5 required=5.0 tests=USER_IN_WELCOMELIST"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "no", Score: fp(-12.5), Threshold: fp(5), Tests: []string{"USER_IN_WELCOMELIST"},
			}},
		},
		{
			name:   "a score that is not a number is reported and the Yes still counts",
			header: []string{"X-Spam-Status: Yes, score=abc required=5.0 tests=BAYES_99"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "yes", Threshold: fp(5), Tests: []string{"BAYES_99"},
				Err: `X-Spam-Status: score "abc" is not a number`,
			}},
		},
		{
			name:   "NaN and Inf are no scores",
			header: []string{"X-Spam-Status: No, score=NaN required=+Inf tests=A"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "no", Tests: []string{"A"},
				Err: `X-Spam-Status: score "NaN" is not a number; X-Spam-Status: threshold "+Inf" is not a number`,
			}},
		},
		{
			name:   "a score too large for a float is out of range",
			header: []string{"X-Spam-Status: Yes, score=" + strings.Repeat("9", 400) + " required=5.0"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "yes", Threshold: fp(5), Err: "is out of range",
			}},
		},
		{
			name:   "no Yes or No: unknown, the rest still read",
			header: []string{"X-Spam-Status: score=3.0 required=5.0 tests=A"},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "unknown", Score: fp(3), Threshold: fp(5), Tests: []string{"A"},
				Err: "does not start with Yes or No",
			}},
		},
		{
			name: "the flag disagreeing with the status is reported; the status counts",
			header: []string{
				"X-Spam-Status: No, score=1.0 required=5.0 tests=A",
				"X-Spam-Flag: YES",
			},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "no", Score: fp(1), Threshold: fp(5), Tests: []string{"A"},
				Err: "X-Spam-Flag says yes but X-Spam-Status says no",
			}},
		},
		{
			name: "two hops: the topmost status counts, the older is noted",
			header: []string{
				"X-Spam-Status: Yes, score=5.6 required=5.0 tests=BAYES_80",
				"Received: from gw.example.org by mx.example.org",
				"X-Spam-Status: No, score=0.3 required=5.0 tests=HTML_MESSAGE",
			},
			want: []SpamVerdict{{
				Filter: "spamassassin", Spam: "yes", Score: fp(5.6), Threshold: fp(5), Tests: []string{"BAYES_80"},
				Err: "X-Spam-Status: 1 older field ignored",
			}},
		},
		{
			name:   "a lone flag is generic",
			header: []string{"X-Spam-Flag: YES", "X-Spam-Level: *****"},
			want:   []SpamVerdict{{Filter: "generic", Spam: "yes", Fields: []string{"X-Spam-Flag"}}},
		},
		{
			name:   "a flag that is neither yes nor no",
			header: []string{"X-Spam-Flag: PERHAPS"},
			want:   []SpamVerdict{{Filter: "generic", Spam: "unknown", Err: `X-Spam-Flag: "PERHAPS" is neither yes nor no`}},
		},
		{
			name:   "Exim's X-Spam-Score with a bar, without Fastmail markers",
			header: []string{"X-Spam-Score: -1.7 (-)", "X-Spam-hits: -1.7"},
			want:   []SpamVerdict{{Filter: "generic", Spam: "unknown", Score: fp(-1.7), Fields: []string{"X-Spam-Score"}}},
		},
		// amavis.
		{
			name: "amavis with a bracketed list",
			header: []string{
				"X-Spam-Flag: NO", "X-Spam-Score: -2.099", "X-Spam-Level: ",
				"X-Spam-Status: No, score=-2.099 tagged_above=-999 required=6.31",
				" tests=[BAYES_00=-1.9, DKIM_SIGNED=0.1,", " DKIM_VALID=-0.1] autolearn=ham autolearn_force=no",
			},
			want: []SpamVerdict{{
				Filter: "amavis", Spam: "no", Score: fp(-2.099), Threshold: fp(6.31),
				Tests:   []string{"BAYES_00(-1.9)", "DKIM_SIGNED(0.1)", "DKIM_VALID(-0.1)"},
				Details: map[string]string{"TAGGED_ABOVE": "-999", "AUTOLEARN": "ham", "AUTOLEARN_FORCE": "no"},
				Fields:  []string{"X-Spam-Flag", "X-Spam-Score", "X-Spam-Status"},
			}},
		},
		{
			name:   "amavis list without its closing bracket",
			header: []string{"X-Spam-Status: Yes, score=8 tagged_above=-999 required=6.31 tests=[BAYES_99=3.5, URIBL_BLACK=abc"},
			want: []SpamVerdict{{
				Filter: "amavis", Spam: "yes", Score: fp(8), Threshold: fp(6.31),
				Tests:   []string{"BAYES_99(3.5)", "URIBL_BLACK"},
				Details: map[string]string{"TAGGED_ABOVE": "-999"},
				Err:     `X-Spam-Status: tests= list has no closing ']'; X-Spam-Status: rule URIBL_BLACK: score "abc" is not a number`,
			}},
		},
		// rspamd.
		{
			name: "rspamd milter on add header",
			header: []string{
				"X-Rspamd-Action: add header", rspamdServer,
				"X-Spamd-Result: default: False [9.80 / 15.00];", "\tBAYES_SPAM(5.10)[99.87%];", "\tR_SPF_SOFTFAIL(0.60)[~all:c];", "\tARC_NA(0.00)[]",
				"X-Rspamd-Queue-Id: 4Xyz123", "X-Spam-Status: Yes, score=9.80", "X-Spam: Yes",
			},
			want: []SpamVerdict{{
				Filter: "rspamd", Spam: "yes", Score: fp(9.8), Threshold: fp(15), Action: "add header",
				Tests:   []string{"BAYES_SPAM(5.10)", "R_SPF_SOFTFAIL(0.60)", "ARC_NA(0.00)"},
				Details: map[string]string{"SERVER": "mx1.example.org", "QUEUE-ID": "4Xyz123"},
				Fields:  []string{"X-Rspamd-Action", "X-Rspamd-Server", "X-Spamd-Result", "X-Rspamd-Queue-Id", "X-Spam-Status", "X-Spam"},
			}},
		},
		{
			name:   "rspamd False alone is not a no",
			header: []string{"X-Spamd-Result: default: False [-2.40 / 15.00]; R_SPF_ALLOW(-0.20)[+ip4:192.0.2.0/24]; DKIM_TRACE(0.00)[example.com:+]", rspamdServer},
			want: []SpamVerdict{{
				Filter: "rspamd", Spam: "unknown", Score: fp(-2.4), Threshold: fp(15),
				Tests: []string{"R_SPF_ALLOW(-0.20)", "DKIM_TRACE(0.00)"}, Details: map[string]string{"SERVER": "mx1.example.org"},
			}},
		},
		{
			name:   "rspamd True is a reject",
			header: []string{"X-Spamd-Result: default: TRUE [16.20 / 15.00]; GTUBE(15.00)[]"},
			want:   []SpamVerdict{{Filter: "rspamd", Spam: "yes", Score: fp(16.2), Threshold: fp(15), Tests: []string{"GTUBE(15.00)"}}},
		},
		{
			name:   "a short X-Spam-Status next to rspamd fields is rspamd's",
			header: []string{rspamdServer, "X-Spam-Status: No, score=2.40"},
			want: []SpamVerdict{{
				Filter: "rspamd", Spam: "no", Score: fp(2.4), Details: map[string]string{"SERVER": "mx1.example.org"},
				Fields: []string{"X-Rspamd-Server", "X-Spam-Status"},
			}},
		},
		{
			name:   "a short X-Spam-Status without rspamd fields is spamassassin's",
			header: []string{"X-Spam-Status: Yes, score=12.50"},
			want:   []SpamVerdict{{Filter: "spamassassin", Spam: "yes", Score: fp(12.5)}},
		},
		{
			name:   "rspamd action and X-Spam disagree: the action counts",
			header: []string{"X-Rspamd-Action: no action", "X-Spam: Yes"},
			want:   []SpamVerdict{{Filter: "rspamd", Spam: "no", Action: "no action", Err: "X-Spam says yes but X-Rspamd-Action says no"}},
		},
		{
			name:   "rspamd greylist is not spam",
			header: []string{"X-Rspamd-Action: greylist", "X-Rspamd-Score: 4.1"},
			want:   []SpamVerdict{{Filter: "rspamd", Spam: "no", Score: fp(4.1), Action: "greylist"}},
		},
		{
			name:   "rspamd action with underscores",
			header: []string{"X-Rspamd-Action: rewrite_subject"},
			want:   []SpamVerdict{{Filter: "rspamd", Spam: "yes", Action: "rewrite subject"}},
		},
		{
			name:   "rspamd unknown action",
			header: []string{"X-Rspamd-Action: shrug"},
			want:   []SpamVerdict{{Filter: "rspamd", Spam: "unknown", Action: "shrug", Err: `unknown action "shrug"`}},
		},
		{
			name:   "rspamd result without its closing bracket",
			header: []string{"X-Spamd-Result: default: False [2.40 / 15.00; R_SPF_ALLOW(-0.20)[]"},
			want: []SpamVerdict{{
				Filter: "rspamd", Spam: "unknown", Tests: []string{"R_SPF_ALLOW(-0.20)"},
				Err: "[score / threshold] has no closing ']'",
			}},
		},
		{
			name:   "rspamd options holding ';' and ']'",
			header: []string{"X-Spamd-Result: default: False [1.50 / 15.00]; URL_X(1.00)[a;b]c]; OTHER(0.50)[]"},
			want: []SpamVerdict{{
				Filter: "rspamd", Spam: "unknown", Score: fp(1.5), Threshold: fp(15), Tests: []string{"URL_X(1.00)", "OTHER(0.50)"},
			}},
		},
		{
			name:   "rspamd symbols with bad scores and stray text",
			header: []string{"X-Spamd-Result: default: False [1.00 / 15.00]; BROKEN(abc)[]; (oops); NOSCORE[x]; TRAILING(1.0"},
			want: []SpamVerdict{{
				Filter: "rspamd", Spam: "unknown", Score: fp(1), Threshold: fp(15), Tests: []string{"BROKEN", "NOSCORE", "TRAILING"},
				Err: `rule BROKEN: score "abc" is not a number; X-Spamd-Result: offset 46: expected a symbol, found "(oops); NOSCORE[x]; TRAI..."; X-Spamd-Result: symbol TRAILING: score has no closing ')'`,
			}},
		},
		// Microsoft.
		{
			name:   "microsoft inbound, not spam",
			header: []string{report, "X-Microsoft-Antispam: BCL:0;", "X-Microsoft-Antispam-Mailbox-Delivery: ucf:0;jmr:0;auth:0;dest:I;ENG:(910001)(944506478);"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "no", Score: fp(1), Threshold: fp(5), Action: "NSPM",
				Details: merge(msDetails, map[string]string{"BCL": "0", "DEST": "I"}),
			}},
		},
		{
			name:   "microsoft junk",
			header: []string{"X-Forefront-Antispam-Report: CIP:198.51.100.23;SCL:5;SRV:BULK;SFV:SPM;CAT:BULK;DIR:INB;", "X-Microsoft-Antispam: BCL:7;"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "yes", Score: fp(5), Threshold: fp(5), Action: "SPM",
				Details: map[string]string{"CIP": "198.51.100.23", "SCL": "5", "SRV": "BULK", "SFV": "SPM", "CAT": "BULK", "DIR": "INB", "BCL": "7"},
			}},
		},
		{
			name:   "microsoft SCL -1 skipped filtering: not spam",
			header: []string{"X-Forefront-Antispam-Report: SCL:-1;SFV:SKN;IPV:CAL;"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "no", Score: fp(-1), Threshold: fp(5), Action: "SKN",
				Details: map[string]string{"SCL": "-1", "SFV": "SKN", "IPV": "CAL"},
			}},
		},
		{
			name:   "microsoft SFV decides without SCL",
			header: []string{"X-Forefront-Antispam-Report: SFV:SKS;"},
			want:   []SpamVerdict{{Filter: "microsoft", Spam: "yes", Action: "SKS", Details: map[string]string{"SFV": "SKS"}}},
		},
		{
			name:   "microsoft SCL and SFV disagree: SCL counts",
			header: []string{"X-Forefront-Antispam-Report: SCL:6;SFV:NSPM;"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "yes", Score: fp(6), Threshold: fp(5), Action: "NSPM",
				Details: map[string]string{"SCL": "6", "SFV": "NSPM"}, Err: "SFV:NSPM says no but SCL:6 says yes; SCL:6 counts",
			}},
		},
		{
			name:   "microsoft SCL out of range, garbage and an unknown SFV",
			header: []string{"X-Forefront-Antispam-Report: CIP:192.0.2.1;SCL:12;SFV:WHAT;garbage;SCL:3;;"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "unknown", Action: "WHAT",
				Details: map[string]string{"CIP": "192.0.2.1", "SCL": "12", "SFV": "WHAT"},
				Err:     `"garbage" is not a KEY:value pair; X-Forefront-Antispam-Report: SCL given twice, the first counts; SCL "12" is not a level from -1 to 9; SFV "WHAT" is not a documented verdict`,
			}},
		},
		{
			name:   "microsoft released from quarantine: SCL decides",
			header: []string{"X-Forefront-Antispam-Report: SCL:1;SFV:SKQ;"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "no", Score: fp(1), Threshold: fp(5), Action: "SKQ", Details: map[string]string{"SCL": "1", "SFV": "SKQ"},
			}},
		},
		{
			name:   "microsoft organization SCL alone",
			header: []string{"X-MS-Exchange-Organization-SCL: 9"},
			want:   []SpamVerdict{{Filter: "microsoft", Spam: "yes", Score: fp(9), Threshold: fp(5), Details: map[string]string{"SCL": "9"}}},
		},
		{
			name:   "microsoft organization SCL differing from the report",
			header: []string{"X-MS-Exchange-Organization-SCL: 5", "X-Forefront-Antispam-Report: SCL:1;SFV:NSPM;", "X-MS-Exchange-Organization-PCL: 2"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "no", Score: fp(1), Threshold: fp(5), Action: "NSPM",
				Details: map[string]string{"SCL": "1", "SFV": "NSPM", "PCL": "2"},
				Err:     `X-MS-Exchange-Organization-SCL: "5" differs from the report's SCL:1`,
				Fields:  []string{"X-MS-Exchange-Organization-SCL", "X-Forefront-Antispam-Report", "X-MS-Exchange-Organization-PCL"},
			}},
		},
		{
			name:   "microsoft bulk level alone decides nothing",
			header: []string{"X-Microsoft-Antispam: BCL:7;ARA:1444111002|4636009;"},
			want:   []SpamVerdict{{Filter: "microsoft", Spam: "unknown", Details: map[string]string{"BCL": "7", "ARA": "1444111002|4636009"}}},
		},
		{
			name:   "microsoft folded report with spaces and an IPv6 CIP",
			header: []string{"X-Forefront-Antispam-Report: CIP:2001:db8::25; CTRY:; LANG:en;", " SCL:1; SRV:; IPV:NLI; SFV:NSPM;"},
			want: []SpamVerdict{{
				Filter: "microsoft", Spam: "no", Score: fp(1), Threshold: fp(5), Action: "NSPM",
				Details: map[string]string{"CIP": "2001:db8::25", "LANG": "en", "SCL": "1", "IPV": "NLI", "SFV": "NSPM"},
			}},
		},
		{
			name: "microsoft untrusted report is its own verdict",
			header: []string{
				"X-Forefront-Antispam-Report-Untrusted: CIP:255.255.255.255;SCL:1;SFV:NSPM;DIR:OUT;",
				"X-Microsoft-Antispam-Untrusted: BCL:0;",
			},
			want: []SpamVerdict{{
				Filter: "microsoft-untrusted", Spam: "no", Score: fp(1), Threshold: fp(5), Action: "NSPM",
				Details: map[string]string{"CIP": "255.255.255.255", "SCL": "1", "SFV": "NSPM", "DIR": "OUT", "BCL": "0"},
			}},
		},
		// Barracuda.
		{
			name: "barracuda not spam, folded",
			header: []string{
				"X-Barracuda-Spam-Score: 0.50",
				"X-Barracuda-Spam-Status: No,", " SCORE=0.50 using global scores of TAG_LEVEL=3.5", " QUARANTINE_LEVEL=1000.0 KILL_LEVEL=6.0 tests=HTML_MESSAGE, BSF_SC0_MISMATCH_TO",
				"X-Barracuda-Spam-Flag: NO",
			},
			want: []SpamVerdict{{
				Filter: "barracuda", Spam: "no", Score: fp(0.5), Threshold: fp(3.5),
				Tests:   []string{"HTML_MESSAGE", "BSF_SC0_MISMATCH_TO"},
				Details: map[string]string{"QUARANTINE_LEVEL": "1000.0", "KILL_LEVEL": "6.0"},
			}},
		},
		{
			name:   "barracuda spam with an empty test list",
			header: []string{"X-Barracuda-Spam-Status: Yes, SCORE=7.10 using global scores of TAG_LEVEL=3.5 QUARANTINE_LEVEL=1000.0 KILL_LEVEL=9.0 tests="},
			want: []SpamVerdict{{
				Filter: "barracuda", Spam: "yes", Score: fp(7.1), Threshold: fp(3.5),
				Details: map[string]string{"QUARANTINE_LEVEL": "1000.0", "KILL_LEVEL": "9.0"},
			}},
		},
		{
			name:   "barracuda flag alone",
			header: []string{"X-Barracuda-Spam-Flag: YES", "X-Barracuda-Spam-Score: 8.2"},
			want:   []SpamVerdict{{Filter: "barracuda", Spam: "yes", Score: fp(8.2)}},
		},
		// Mimecast.
		{
			name:   "mimecast score is reported, not judged",
			header: []string{"X-Mimecast-Spam-Score: 12", "X-Mimecast-Spam-Signature: bulk", "X-Mimecast-Bulk-Signature: yes"},
			want: []SpamVerdict{{
				Filter: "mimecast", Spam: "unknown", Score: fp(12),
				Details: map[string]string{"SPAM-SIGNATURE": "bulk", "BULK-SIGNATURE": "yes"},
			}},
		},
		{
			name:   "mimecast score that is not a number",
			header: []string{"X-Mimecast-Spam-Score: twelve"},
			want:   []SpamVerdict{{Filter: "mimecast", Spam: "unknown", Err: `"twelve" is not a number`}},
		},
		// Fastmail.
		{
			name: "fastmail unknown sender",
			header: []string{
				"X-Spam-known-sender: no", "X-Spam-sender-reputation: 500 (none)", "X-Spam-score: 2.8",
				"X-Spam-hits: DKIM_SIGNED 0.1, DKIM_VALID -0.1,", "  MISSING_MID 0.14, LANGUAGES en, BAYES_USED none,", "  SA_VERSION 3.4.2",
				"X-Spam-source: IP='192.0.2.10', Host='mail.example.com'",
			},
			want: []SpamVerdict{{
				Filter: "fastmail", Spam: "unknown", Score: fp(2.8),
				Tests:   []string{"DKIM_SIGNED(0.1)", "DKIM_VALID(-0.1)", "MISSING_MID(0.14)"},
				Details: map[string]string{"KNOWN-SENDER": "no", "SENDER-REPUTATION": "500", "LANGUAGES": "en", "BAYES_USED": "none", "SA_VERSION": "3.4.2"},
				Fields:  []string{"X-Spam-known-sender", "X-Spam-sender-reputation", "X-Spam-score", "X-Spam-hits"},
			}},
		},
		{
			name:   "fastmail known sender is not spam whatever the score",
			header: []string{`X-Spam-known-sender: yes ("Address news@example.com in From header is in addressbook");`, " in-addressbook", "X-Spam-score: 6.1"},
			want: []SpamVerdict{{
				Filter: "fastmail", Spam: "no", Score: fp(6.1), Details: map[string]string{"KNOWN-SENDER": "yes"},
			}},
		},
		// Proton.
		{
			name:   "proton score",
			header: []string{"X-Pm-Origin: external", "X-Pm-Spamscore: 3"},
			want:   []SpamVerdict{{Filter: "proton", Spam: "unknown", Score: fp(3), Details: map[string]string{"ORIGIN": "external"}}},
		},
		{
			name:   "proton origin without a score is no verdict",
			header: []string{"X-Pm-Origin: internal"},
			want:   nil,
		},
		// Yahoo.
		{
			name:   "yahoo bulk",
			header: []string{"X-YahooFilteredBulk: 192.0.2.10"},
			want:   []SpamVerdict{{Filter: "yahoo", Spam: "yes", Details: map[string]string{"IP": "192.0.2.10"}}},
		},
		// Several filters, and none.
		{
			name: "several filters come sorted by name",
			header: []string{
				"X-Spam-Status: No, score=1.3 required=5.0 tests=HTML_MESSAGE",
				"X-Forefront-Antispam-Report: SCL:1;SFV:NSPM;",
				"X-Rspamd-Action: no action",
			},
			want: []SpamVerdict{
				{Filter: "microsoft", Spam: "no", Score: fp(1), Threshold: fp(5), Action: "NSPM", Details: map[string]string{"SCL": "1", "SFV": "NSPM"}},
				{Filter: "rspamd", Spam: "no", Action: "no action"},
				{Filter: "spamassassin", Spam: "no", Score: fp(1.3), Threshold: fp(5), Tests: []string{"HTML_MESSAGE"}},
			},
		},
		{
			name:   "gmail writes no verdict",
			header: []string{"Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=a@example.com", "Subject: hi"},
			want:   nil,
		},
		{
			name:   "no fields at all",
			header: nil,
			want:   nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SpamVerdicts(spamFields(t, tc.header...))
			if len(got) != len(tc.want) {
				t.Fatalf("SpamVerdicts() = %s, want %s", dumpSpam(got), dumpSpam(tc.want))
			}
			for i, want := range tc.want {
				g := got[i]
				if want.Err == "" && g.Err != "" || !strings.Contains(g.Err, want.Err) {
					t.Errorf("SpamVerdicts()[%d].Err = %q, want it to hold %q", i, g.Err, want.Err)
				}
				if want.Fields == nil {
					g.Fields = nil
				}
				g.Err, want.Err = "", ""
				if !reflect.DeepEqual(g, want) {
					t.Errorf("SpamVerdicts()[%d] = %s, want %s", i, dumpSpam(g), dumpSpam(want))
				}
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// dumpSpam renders verdicts for a failure message, pointers followed.
func dumpSpam(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func TestSpamVerdictsErrIsBounded(t *testing.T) {
	value := "X-Forefront-Antispam-Report: " + strings.Repeat("garbage;", 50)
	got := SpamVerdicts(spamFields(t, value))
	if len(got) != 1 {
		t.Fatalf("SpamVerdicts() = %s, want one verdict", dumpSpam(got))
	}
	if err := got[0].Err; !strings.HasSuffix(err, "; and 45 more problems") || len(err) > 500 {
		t.Errorf("Err = %q, want 5 problems and a count of the rest", err)
	}
}

func TestParseScore(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"7.3", 7.3, true},
		{"-0.20", -0.2, true},
		{"+1", 1, true},
		{"12.", 12, true},
		{".5", 0.5, true},
		{"0", 0, true},
		{"", 0, false},
		{"-", 0, false},
		{".", 0, false},
		{"abc", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"-Infinity", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"1.2.3", 0, false},
		{"1-2", 0, false},
		{strings.Repeat("9", 400), 0, false},
	} {
		got, err := parseScore(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseScore(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestSpamVerdictsGolden reads each testdata/spam/*.txt header block and
// compares its verdicts with the .golden file beside it, as indented JSON.
// Run with -update to rewrite the golden files.
func TestSpamVerdictsGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "spam", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no header blocks in testdata/spam: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			in, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			fs, errs := ReadFields(in)
			if len(errs) > 0 {
				t.Fatalf("ReadFields(%s): %v", name, errs)
			}
			got, err := json.MarshalIndent(SpamVerdicts(fs), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(name, ".txt")+".golden", append(got, '\n'))
		})
	}
}

// BenchmarkSpamVerdicts reads a typical header that SpamAssassin, rspamd and
// Microsoft 365 all stamped.
func BenchmarkSpamVerdicts(b *testing.B) {
	var header []byte
	for _, name := range []string{"spamassassin-ham.txt", "rspamd-ham.txt", "microsoft-inbound.txt"} {
		in, err := os.ReadFile(filepath.Join("testdata", "spam", name))
		if err != nil {
			b.Fatal(err)
		}
		in, _, _ = bytes.Cut(in, []byte("\n\n")) // the header only
		header = append(append(header, bytes.TrimRight(in, "\n")...), '\n')
	}
	fs, errs := ReadFields(header)
	if len(errs) > 0 {
		b.Fatalf("ReadFields: %v", errs)
	}
	if n := len(SpamVerdicts(fs)); n != 3 {
		b.Fatalf("SpamVerdicts found %d verdicts, want 3", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		SpamVerdicts(fs)
	}
}
