package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
)

// find looks for the message with token in a seed's INBOX and Junk over IMAP
// and returns the folder and the message's header; "" when it is in neither.
func find(t *testing.T, l *Lab, seed, token string) (string, textproto.Header) {
	t.Helper()
	c := imapLogin(t, l, seed, nil)
	for _, folder := range []string{"INBOX", "Junk"} {
		if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatalf("select %s: %v", folder, err)
		}
		crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "X-Mailflow-Probe", Value: token}}}
		data, err := c.UIDSearch(crit, nil).Wait()
		if err != nil {
			t.Fatalf("search %s: %v", folder, err)
		}
		uids := data.AllUIDs()
		if len(uids) == 0 {
			continue
		}
		if len(uids) > 1 {
			t.Errorf("%s/%s holds %d messages with token %s, want 1", seed, folder, len(uids), token)
		}
		section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		msgs, err := c.Fetch(imap.UIDSetNum(uids[0]), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch %s: %d messages, %v", folder, len(msgs), err)
		}
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(msgs[0].FindBodySection(section))))
		if err != nil {
			t.Fatal(err)
		}
		return folder, h
	}
	return "", textproto.Header{}
}

// authResults reads the lab's Authentication-Results as "spf=pass dkim=pass
// dmarc=pass".
func authResults(t *testing.T, l *Lab, h textproto.Header) string {
	t.Helper()
	id, results, err := authres.Parse(h.Get("Authentication-Results"))
	if err != nil {
		t.Fatalf("parse Authentication-Results %q: %v", h.Get("Authentication-Results"), err)
	}
	if id != l.Hostname {
		t.Errorf("authserv-id = %q, want %q", id, l.Hostname)
	}
	var out []string
	for _, r := range results {
		switch r := r.(type) {
		case *authres.SPFResult:
			out = append(out, "spf="+string(r.Value))
		case *authres.DKIMResult:
			out = append(out, "dkim="+string(r.Value))
		case *authres.DMARCResult:
			out = append(out, "dmarc="+string(r.Value))
		}
	}
	return strings.Join(out, " ")
}

func TestDelivery(t *testing.T) {
	l := newLab(t)
	monitor := "monitor@" + l.SenderDomain
	for _, tc := range []struct {
		name     string
		listener string
		auth     bool
		mailFrom string // "" means monitor
		from     string // the From field; "" means monitor
		rcpt     string // a seed name, or an address with @
		body     string
		sign     bool

		want       string // "ok" or the reply code of the failure
		wantFolder string // "" when the message must be nowhere
		wantAuth   string
		wantSpam   string
		wantWith   string
	}{
		{name: "signed through submission lands in INBOX", listener: "submission", auth: true, rcpt: "alice", sign: true,
			want: "ok", wantFolder: "INBOX", wantAuth: "spf=pass dkim=pass dmarc=pass", wantSpam: "No", wantWith: "ESMTPSA"},
		{name: "seed rule files bob's mail into Junk", listener: "smtps", auth: true, rcpt: "bob", sign: true,
			want: "ok", wantFolder: "Junk", wantAuth: "spf=pass dkim=pass dmarc=pass", wantSpam: "Yes", wantWith: "ESMTPSA"},
		{name: "carol is rejected at RCPT", listener: "submission", auth: true, rcpt: "carol", sign: true, want: "550 5.1.1"},
		{name: "dave's mail is accepted and dropped", listener: "smtps", auth: true, rcpt: "dave", sign: true, want: "ok"},
		{name: "GTUBE goes to Junk", listener: "submission", auth: true, rcpt: "alice", sign: true, body: gtube,
			want: "ok", wantFolder: "Junk", wantAuth: "spf=pass dkim=pass dmarc=pass", wantSpam: "Yes", wantWith: "ESMTPSA"},
		{name: "unsigned through relay passes DMARC by SPF", listener: "relay", rcpt: "alice",
			want: "ok", wantFolder: "INBOX", wantAuth: "spf=pass dkim=none dmarc=pass", wantSpam: "No", wantWith: "ESMTP"},
		{name: "relay after STARTTLS", listener: "relay+starttls", rcpt: "alice", sign: true,
			want: "ok", wantFolder: "INBOX", wantAuth: "spf=pass dkim=pass dmarc=pass", wantSpam: "No", wantWith: "ESMTPS"},
		{name: "plain relay", listener: "plain-relay", rcpt: "alice", sign: true,
			want: "ok", wantFolder: "INBOX", wantAuth: "spf=pass dkim=pass dmarc=pass", wantSpam: "No", wantWith: "ESMTP"},
		{name: "spoofed From fails DMARC and goes to Junk", listener: "relay", rcpt: "alice", mailFrom: "bounce@other.example",
			want: "ok", wantFolder: "Junk", wantAuth: "spf=none dkim=none dmarc=fail", wantSpam: "Yes", wantWith: "ESMTP"},
		{name: "domain without records", listener: "relay", rcpt: "alice", mailFrom: "news@other.example", from: "news@other.example",
			want: "ok", wantFolder: "INBOX", wantAuth: "spf=none dkim=none dmarc=none", wantSpam: "No", wantWith: "ESMTP"},
		{name: "relay refuses other domains", listener: "relay", rcpt: "someone@elsewhere.example", want: "550 5.7.1"},
		{name: "submission refuses other domains", listener: "submission", auth: true, rcpt: "someone@elsewhere.example", want: "550 5.7.1"},
		{name: "unknown seed", listener: "relay", rcpt: "nobody@seeds.mailflow.test", want: "550 5.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mailFrom, from, to := tc.mailFrom, tc.from, tc.rcpt
			if mailFrom == "" {
				mailFrom = monitor
			}
			if from == "" {
				from = monitor
			}
			seed, isSeed := l.Seed(tc.rcpt)
			if isSeed {
				to = seed.Address
			}
			token := newToken(t)
			msg := compose(from, to, token, tc.body)
			if tc.sign {
				msg = sign(t, l, msg)
			}
			c := dial(t, l, tc.listener)
			if tc.auth {
				if err := c.Auth(sasl.NewPlainClient("", l.Username, l.Password)); err != nil {
					t.Fatalf("AUTH PLAIN: %v", err)
				}
			}
			reply, err := send(c, mailFrom, to, msg)
			if got := code(err); got != tc.want {
				t.Fatalf("send: got %s, want %s", got, tc.want)
			}
			wantCopies := 0
			if err == nil {
				wantCopies = 1
			}
			if n := l.Deliveries(token); n != wantCopies {
				t.Errorf("Deliveries(token): got %d, want %d", n, wantCopies)
			}
			if err != nil {
				return
			}
			_, qid, ok := strings.Cut(reply, "queued as ")
			if !ok || len(qid) != 10 {
				t.Errorf("DATA reply = %q, want \"... queued as <10 hex digits>\"", reply)
			}
			folder, h := find(t, l, seed.Name, token)
			if folder != tc.wantFolder {
				t.Fatalf("folder: got %q, want %q", folder, tc.wantFolder)
			}
			if folder == "" {
				for _, f := range []string{"INBOX", "Junk"} {
					if n, err := l.Count(seed.Name, f); err != nil || n != 0 {
						t.Errorf("Count(%s, %s) = %d, %v, want 0, nil", seed.Name, f, n, err)
					}
				}
				return
			}
			var top []string
			for f := h.Fields(); f.Next() && len(top) < 3; {
				top = append(top, f.Key())
			}
			if got, want := strings.Join(top, ","), "Received,Authentication-Results,X-Spam"; got != want {
				t.Errorf("top fields: got %s, want %s", got, want)
			}
			if got := authResults(t, l, h); got != tc.wantAuth {
				t.Errorf("Authentication-Results: got %s, want %s", got, tc.wantAuth)
			}
			if ar := h.Get("Authentication-Results"); tc.sign && !strings.Contains(ar, "header.d=mailflow.test header.s=lab") {
				t.Errorf("Authentication-Results %q, want header.d=mailflow.test header.s=lab in its dkim result", ar)
			}
			if got := h.Get("X-Spam"); got != tc.wantSpam {
				t.Errorf("X-Spam: got %q, want %q", got, tc.wantSpam)
			}
			rcvd := strings.Join(strings.Fields(h.Get("Received")), " ")
			wantRcvd := fmt.Sprintf("by %s with %s id %s for <%s>;", l.Hostname, tc.wantWith, qid, seed.Address)
			if !strings.Contains(rcvd, wantRcvd) || !strings.Contains(rcvd, "(localhost [127.0.0.1])") {
				t.Errorf("Received: got %q, want it to hold (localhost [127.0.0.1]) and %q", rcvd, wantRcvd)
			}
			if date := rcvd[strings.LastIndex(rcvd, ";")+1:]; !validDate(date) {
				t.Errorf("Received date %q is not an RFC 5322 date", date)
			}
		})
	}
}

func validDate(s string) bool {
	_, err := time.Parse(time.RFC1123Z, strings.TrimSpace(s))
	return err == nil
}

// TestStampKeepsSignature checks that a delivered copy loses forged lab
// fields, keeps other sites' results and still verifies.
func TestStampKeepsSignature(t *testing.T) {
	l := newLab(t)
	// Fields added above the signature by a hop on the way, as forgeries are.
	msg := sign(t, l, compose("monitor@mailflow.test", "alice@seeds.mailflow.test", "tok", ""))
	msg = append([]byte("Authentication-Results: lab.mailflow.test (forged); dkim=pass header.d=mailflow.test\r\n"+
		"Authentication-Results: mx.example; spf=pass\r\nX-Spam: No\r\n"), msg...)
	a, _ := l.Seed("alice")
	d := &delivery{qid: "0123456789", helo: "client.mailflow.test", ip: net.IPv4(127, 0, 0, 1), with: "ESMTP",
		now: time.Now(), body: msg, verdict: l.check("monitor@mailflow.test", "client.mailflow.test", net.IPv4(127, 0, 0, 1), msg)}
	got := l.stamp(d, a, true)
	if n := bytes.Count(got, []byte("Authentication-Results: lab.mailflow.test")); n != 1 {
		t.Errorf("lab Authentication-Results fields: got %d, want 1 (the lab's own)", n)
	}
	if !bytes.Contains(got, []byte("Authentication-Results: mx.example; spf=pass")) {
		t.Error("mx.example's Authentication-Results: got removed, want kept")
	}
	if n := bytes.Count(got, []byte("\nX-Spam:")); n != 1 {
		t.Errorf("X-Spam fields: got %d, want 1", n)
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(got), &dkim.VerifyOptions{LookupTXT: l.LookupTXT})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
		t.Errorf("DKIM of the stamped copy: got %v %+v, want one passing signature", err, verifs)
	}
}
