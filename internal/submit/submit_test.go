package submit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestQueueID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2.0.0 Ok: queued as 4XyZ1abC2", "4XyZ1abC2"},
		{"Ok: queued as 4XyZ1abC2", "4XyZ1abC2"},
		{"OK id=1vNx3a-000Abc-7Q", "1vNx3a-000Abc-7Q"},
		{"2.0.0 OK <20261123.abc@mx.example> queued as <Q123>", "Q123"},
		{"2.0.0 OK: queued", ""},
		{"", ""},
	} {
		if got := QueueID(tc.in); got != tc.want {
			t.Errorf("QueueID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseReply(t *testing.T) {
	at := time.Unix(1, 0)
	for _, tc := range []struct {
		name          string
		lines         []string
		code          int
		enhanced, txt string
	}{
		{"single", []string{"250 2.1.0 Ok"}, 250, "2.1.0", "Ok"},
		{"multi", []string{"250-mx.example", "250-PIPELINING", "250 STARTTLS"}, 250, "", "mx.example\nPIPELINING\nSTARTTLS"},
		{"no enhanced", []string{"220 mx.example ESMTP"}, 220, "", "mx.example ESMTP"},
		{"rejected", []string{"550 5.1.1 <x@y>: Recipient address rejected"}, 550, "5.1.1", "<x@y>: Recipient address rejected"},
		{"bare code", []string{"354"}, 354, "", ""},
		{"version-like text", []string{"250 3.1.4 is pi"}, 250, "", "3.1.4 is pi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parseReply(tc.lines, at)
			if r.code != tc.code || r.enhancedCode != tc.enhanced || r.text != tc.txt {
				t.Errorf("parseReply(%q) = %d %q %q, want %d %q %q", tc.lines, r.code, r.enhancedCode, r.text, tc.code, tc.enhanced, tc.txt)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		stage Stage
		code  int
		want  Outcome
	}{
		{StageRcpt, 550, Rejected},
		{StageRcpt, 450, Deferred},
		{StageMail, 421, Deferred},
		{StageData, 554, Rejected},
		{StageAuth, 535, Failed},
		{StageConnect, 0, Failed},
		{StageBanner, 554, Failed},
		{StageSTARTTLS, 454, Failed},
		{StageData, 0, Failed},
	} {
		if got, _ := classify(tc.stage, tc.code, boom); got != tc.want {
			t.Errorf("classify(%s, %d) = %s, want %s", tc.stage, tc.code, got, tc.want)
		}
	}
}

func TestTranscriptMasksCredentials(t *testing.T) {
	tr := newTranscript()
	write := feeder(tr)
	write(false, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n")
	write(true, "235 2.7.0 ok\r\n")
	write(false, "AUTH LOGIN\r\n")
	write(true, "334 VXNlcm5hbWU6\r\n")
	write(false, "dXNlcg==\r\n")
	write(true, "334 UGFzc3dvcmQ6\r\n")
	write(false, "c2VjcmV0\r\n")
	write(true, "235 2.7.0 ok\r\n")
	got := tr.String()
	for _, secret := range []string{"AHVzZXIAc2VjcmV0", "dXNlcg==", "c2VjcmV0"} {
		if strings.Contains(got, secret) {
			t.Errorf("transcript shows credential %q:\n%s", secret, got)
		}
	}
	if n := len(tr.replies); n != 4 {
		t.Errorf("got %d replies, want 4", n)
	}
}

func TestTranscriptSplitReads(t *testing.T) {
	tr := newTranscript()
	tr.reading = true
	for _, chunk := range []string{"250-mx.exa", "mple\r\n250-SIZE 1000\r", "\n250 8BITMIME\r\n"} {
		tr.Write([]byte(chunk))
	}
	if len(tr.replies) != 1 {
		t.Fatalf("got %d replies, want 1", len(tr.replies))
	}
	if got, want := tr.replies[0].text, "mx.example\nSIZE 1000\n8BITMIME"; got != want {
		t.Errorf("reply text = %q, want %q", got, want)
	}
}

func TestTranscriptLeavesOutContent(t *testing.T) {
	tr := newTranscript()
	write := feeder(tr)
	write(false, "DATA\r\n")
	write(true, "354 go ahead\r\n")
	tr.startData(42)
	write(false, "Subject: private\r\n\r\nbody\r\n")
	write(false, ".\r\n")
	write(true, "250 2.0.0 Ok: queued as Q1\r\n")
	write(false, "QUIT\r\n")
	got := tr.String()
	if strings.Contains(got, "private") || strings.Contains(got, "body") {
		t.Errorf("transcript shows message content:\n%s", got)
	}
	if !strings.Contains(got, "S: 250 2.0.0 Ok: queued as Q1") || !strings.Contains(got, "C: QUIT") {
		t.Errorf("transcript lost the final reply or what followed:\n%s", got)
	}
}

// feeder writes to a transcript as the connection would: server bytes when
// reading is set, client bytes otherwise.
func feeder(tr *transcript) func(reading bool, s string) {
	return func(reading bool, s string) {
		tr.reading = reading
		tr.Write([]byte(s))
	}
}
