package verdict

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkHop compares every field of got with want, but Raw (checked by the
// fuzz target), Date (compared as RFC 3339 text, so the zone offset counts
// too) and Err (a part of it, "" for none).
func checkHop(t *testing.T, in string, got, want Hop, date, err string) {
	t.Helper()
	gotDate := ""
	if !got.Date.IsZero() {
		gotDate = got.Date.Format(time.RFC3339)
	}
	if gotDate != date {
		t.Errorf("ParseReceived(%q) Date = %s, want %s", in, gotDate, date)
	}
	switch {
	case err == "" && got.Err != "":
		t.Errorf("ParseReceived(%q) Err = %q, want none", in, got.Err)
	case err != "" && !strings.Contains(got.Err, err):
		t.Errorf("ParseReceived(%q) Err = %q, want it to contain %q", in, got.Err, err)
	}
	got.Date, got.Raw, got.Err = time.Time{}, "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseReceived(%q)\n got %+v\nwant %+v", in, got, want)
	}
}

func TestParseReceived(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Hop
		date string // RFC 3339, "" for none
		err  string // a part of Err, "" when clean
	}{
		{
			name: "postfix relay",
			in: "from mail.example.com (mail.example.com [192.0.2.10]) by mx.example.org (Postfix) " +
				"with ESMTPS id 4ZbQ1x2Y3zz1abc for <probe@example.org>; Mon, 23 Nov 2026 10:00:03 +0100 (CET)",
			want: Hop{From: "mail.example.com", FromHost: "mail.example.com", FromIP: "192.0.2.10", By: "mx.example.org",
				With: "ESMTPS", TLS: true, ID: "4ZbQ1x2Y3zz1abc", For: "probe@example.org"},
			date: "2026-11-23T10:00:03+01:00",
		},
		{
			name: "postfix relay with its TLS comment, folded",
			in: "from mail.example.org (mail.example.org [203.0.113.7])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n" +
				"\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\r\n\t(No client certificate requested)\r\n" +
				"\tby mx.example.net (Postfix) with ESMTPS id 4B3F5\r\n\tfor <probe@example.net>; Mon, 23 Nov 2026 04:00:03 -0500 (EST)",
			want: Hop{From: "mail.example.org", FromHost: "mail.example.org", FromIP: "203.0.113.7", By: "mx.example.net",
				With: "ESMTPS", TLS: true, TLSVersion: "TLS1.3", ID: "4B3F5", For: "probe@example.net"},
			date: "2026-11-23T04:00:03-05:00",
		},
		{
			name: "postfix submission, authenticated sender",
			in: "from [192.0.2.99] (unknown [198.51.100.44]) (Authenticated sender: monitor@example.com) " +
				"by mail.example.com (Postfix) with ESMTPSA id 4ZbQ1w0Abcz9xyz for <probe@example.org>; Mon, 23 Nov 2026 09:00:01 +0000 (UTC)",
			want: Hop{From: "[192.0.2.99]", FromIP: "198.51.100.44", By: "mail.example.com", With: "ESMTPSA", TLS: true, Auth: true,
				ID: "4ZbQ1w0Abcz9xyz", For: "probe@example.org"},
			date: "2026-11-23T09:00:01Z",
		},
		{
			name: "postfix, no reverse DNS",
			in:   "from laptop.example (unknown [198.51.100.44]) by mx.example.org (Postfix) with ESMTP id 4Zb; Mon, 23 Nov 2026 09:00:01 +0000",
			want: Hop{From: "laptop.example", FromIP: "198.51.100.44", By: "mx.example.org", With: "ESMTP", ID: "4Zb"},
			date: "2026-11-23T09:00:01Z",
		},
		{
			name: "postfix local, no from",
			in:   "by mail.example.com (Postfix, from userid 1000) id 4ZbQ1w; Mon, 23 Nov 2026 09:00:01 +0000 (UTC)",
			want: Hop{By: "mail.example.com", ID: "4ZbQ1w"},
			date: "2026-11-23T09:00:01Z",
		},
		{
			name: "dovecot lmtp",
			in: "from mx.example.org ([127.0.0.1]) by imap.example.org with LMTP id cHJvYmUx (envelope-from <a@example.com>) " +
				"for <probe@example.org>; Mon, 23 Nov 2026 10:00:05 +0100",
			want: Hop{From: "mx.example.org", FromIP: "127.0.0.1", By: "imap.example.org", With: "LMTP", ID: "cHJvYmUx", For: "probe@example.org"},
			date: "2026-11-23T10:00:05+01:00",
		},
		{
			name: "gmail mx, trailing dot on the reverse-DNS name",
			in: "from mail-sor-f41.google.test (mail-sor-f41.google.test. [192.0.2.41]) by mx.google.test with SMTPS id x1sor " +
				"for <probe@gmail.test> (Google Transport Security); Mon, 23 Nov 2026 01:02:03 -0800 (PST)",
			want: Hop{From: "mail-sor-f41.google.test", FromHost: "mail-sor-f41.google.test", FromIP: "192.0.2.41", By: "mx.google.test",
				With: "SMTPS", TLS: true, ID: "x1sor", For: "probe@gmail.test"},
			date: "2026-11-23T01:02:03-08:00",
		},
		{
			name: "gmail internal, by an IPv6 host only",
			in:   "by 2001:db8:6a10:1::b0 with SMTP id x5csp1234567pxb; Mon, 23 Nov 2026 01:02:06 -0800 (PST)",
			want: Hop{By: "2001:db8:6a10:1::b0", With: "SMTP", ID: "x5csp1234567pxb"},
			date: "2026-11-23T01:02:06-08:00",
		},
		{
			name: "gmail submission, version in a comment after for",
			in: "from smtpclient.example ([2001:db8:1::5]) by smtp.gmail.test with ESMTPSA id d75a.12 for <probe@gmail.test> " +
				"(version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128); Mon, 23 Nov 2026 01:02:02 -0800 (PST)",
			want: Hop{From: "smtpclient.example", FromIP: "2001:db8:1::5", By: "smtp.gmail.test", With: "ESMTPSA", TLS: true,
				TLSVersion: "TLS1.3", Auth: true, ID: "d75a.12", For: "probe@gmail.test"},
			date: "2026-11-23T01:02:02-08:00",
		},
		{
			name: "microsoft between its servers",
			in: "from DM6PR11MB1234.namprd11.prod.outlook.test (2001:db8:5:1c0::12) by DM6PR11MB5678.namprd11.prod.outlook.test " +
				"(2001:db8:5:1c0::34) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) " +
				"id 15.20.7000.10; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "DM6PR11MB1234.namprd11.prod.outlook.test", FromIP: "2001:db8:5:1c0::12", By: "DM6PR11MB5678.namprd11.prod.outlook.test",
				With: "Microsoft SMTP Server", TLS: true, TLSVersion: "TLS1.2", ID: "15.20.7000.10"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "microsoft edge, via Frontend Transport",
			in: "from mail.example.com (203.0.113.25) by BN8NAM12FT012.mail.protection.outlook.test (198.51.100.98) with Microsoft SMTP " +
				"Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.7000.10 via Frontend Transport; Mon, 23 Nov 2026 09:00:01 +0000",
			want: Hop{From: "mail.example.com", FromIP: "203.0.113.25", By: "BN8NAM12FT012.mail.protection.outlook.test",
				Via: "Frontend Transport", With: "Microsoft SMTP Server", TLS: true, TLSVersion: "TLS1.3", ID: "15.20.7000.10"},
			date: "2026-11-23T09:00:01Z",
		},
		{
			name: "microsoft mapi, zone index in the literal",
			in: "from DM6PR11MB1234.namprd11.prod.outlook.test ([2001:db8::5c5:2a3c%7]) by DM6PR11MB1234.namprd11.prod.outlook.test " +
				"([2001:db8::5c5:2a3c%7]) with mapi id 15.20.7000.010; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "DM6PR11MB1234.namprd11.prod.outlook.test", FromIP: "2001:db8::5c5:2a3c%7",
				By: "DM6PR11MB1234.namprd11.prod.outlook.test", With: "mapi", ID: "15.20.7000.010"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "microsoft to the mailbox over HTTPS",
			in:   "from DM6PR11MB5678.namprd11.prod.outlook.test (2001:db8:5:1c0::34) by SA1PR11MB1111.namprd11.prod.outlook.test with HTTPS; Mon, 23 Nov 2026 09:00:04 +0000",
			want: Hop{From: "DM6PR11MB5678.namprd11.prod.outlook.test", FromIP: "2001:db8:5:1c0::34", By: "SA1PR11MB1111.namprd11.prod.outlook.test",
				With: "HTTPS", TLS: true},
			date: "2026-11-23T09:00:04Z",
		},
		{
			name: "yahoo web client",
			in:   "from 198.51.100.10 by atlas-production.v2-mail-prod1-gq1.omega.yahoo.test with HTTP; Mon, 23 Nov 2026 09:00:06 +0000",
			want: Hop{From: "198.51.100.10", FromIP: "198.51.100.10", By: "atlas-production.v2-mail-prod1-gq1.omega.yahoo.test", With: "HTTP"},
			date: "2026-11-23T09:00:06Z",
		},
		{
			name: "yahoo NNFMP",
			in:   "from 127.0.0.1 by mta1003.mail.gq1.yahoo.test with NNFMP; Mon, 23 Nov 2026 09:00:05 +0000",
			want: Hop{From: "127.0.0.1", FromIP: "127.0.0.1", By: "mta1003.mail.gq1.yahoo.test", With: "NNFMP"},
			date: "2026-11-23T09:00:05Z",
		},
		{
			name: "yahoo hermes, upper-case ID",
			in: "by hermes--production-ir2-58b8c9cf5-x2xkz (Yahoo Inc. Hermes SMTP Server) with ESMTPA ID 5f3a0d6e;\r\n" +
				"          Mon, 23 Nov 2026 09:00:02 +0000 (UTC)",
			want: Hop{By: "hermes--production-ir2-58b8c9cf5-x2xkz", With: "ESMTPA", Auth: true, ID: "5f3a0d6e"},
			date: "2026-11-23T09:00:02Z",
		},
		{
			name: "exim esmtps with tls clause",
			in: "from mail.example.org ([192.0.2.33] helo=smtp.example.org) by mx.example.net with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384 " +
				"(Exim 4.96) (envelope-from <sender@example.org>) id 1tXyZ-000abc-12 for probe@example.net; Mon, 23 Nov 2026 09:00:03 +0000",
			want: Hop{From: "smtp.example.org", FromHost: "mail.example.org", FromIP: "192.0.2.33", By: "mx.example.net", With: "ESMTPS",
				TLS: true, TLSVersion: "TLS1.3", ID: "1tXyZ-000abc-12", For: "probe@example.net"},
			date: "2026-11-23T09:00:03Z",
		},
		{
			name: "exim without reverse DNS",
			in:   "from [198.51.100.9] (helo=[192.0.2.200]) by smtp.example.org with esmtpsa (TLS1.2) tls TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (Exim 4.94.2) id 1tXyZY-0001Ab-7q; Mon, 23 Nov 2026 09:00:02 +0000",
			want: Hop{From: "[192.0.2.200]", FromIP: "198.51.100.9", By: "smtp.example.org", With: "ESMTPSA", TLS: true, TLSVersion: "TLS1.2",
				Auth: true, ID: "1tXyZY-0001Ab-7q"},
			date: "2026-11-23T09:00:02Z",
		},
		{
			name: "exim before 4.92, version and cipher in one comment",
			in:   "from mail.example.org ([192.0.2.33]) by mx.example.net with esmtp (TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256) (Exim 4.89) id 1a-2b-3c; Mon, 23 Nov 2026 09:00:03 +0000",
			want: Hop{From: "mail.example.org", FromIP: "192.0.2.33", By: "mx.example.net", With: "ESMTP", TLS: true, TLSVersion: "TLS1.2", ID: "1a-2b-3c"},
			date: "2026-11-23T09:00:03Z",
		},
		{
			name: "exim local",
			in:   "from Debian-exim by mx.example.net with local (Exim 4.96) (envelope-from <probe@example.net>) id 1tXyZa-000abc-34 for probe@example.net; Mon, 23 Nov 2026 09:00:04 +0000",
			want: Hop{From: "Debian-exim", By: "mx.example.net", With: "local", ID: "1tXyZa-000abc-34", For: "probe@example.net"},
			date: "2026-11-23T09:00:04Z",
		},
		{
			name: "qmail invoked by uid",
			in:   "(qmail 12345 invoked by uid 89); 23 Nov 2026 09:00:00 -0000",
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "qmail HELO and a bare IP in parentheses",
			in:   "from unknown (HELO mail.example.org) (192.0.2.55) by mx.example.net with SMTP; 23 Nov 2026 09:00:04 -0000",
			want: Hop{From: "mail.example.org", FromIP: "192.0.2.55", By: "mx.example.net", With: "SMTP"},
			date: "2026-11-23T09:00:04Z",
		},
		{
			name: "qmail authenticated, user@ip",
			in:   "from mail.example.org (HELO laptop) (monitor@example.org@198.51.100.3) by mail.example.org with ESMTPA; 23 Nov 2026 09:00:02 -0000",
			want: Hop{From: "laptop", FromHost: "mail.example.org", FromIP: "198.51.100.3", By: "mail.example.org", With: "ESMTPA", Auth: true},
			date: "2026-11-23T09:00:02Z",
		},
		{
			name: "sendmail relay",
			in: "from mail.example.com (mail.example.com [192.0.2.44]) by mx.example.net (8.17.1/8.17.1) with ESMTPS id 5AN9003a012345 " +
				"(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT) for <probe@example.net>; Mon, 23 Nov 2026 04:00:03 -0500",
			want: Hop{From: "mail.example.com", FromHost: "mail.example.com", FromIP: "192.0.2.44", By: "mx.example.net", With: "ESMTPS",
				TLS: true, TLSVersion: "TLS1.3", ID: "5AN9003a012345", For: "probe@example.net"},
			date: "2026-11-23T04:00:03-05:00",
		},
		{
			name: "sendmail, authenticated, forged-looking host",
			in: "from ws (ws.example.com [198.51.100.61] (may be forged)) (authenticated bits=0) by mail.example.com (8.17.1/8.17.1) " +
				"with ESMTPSA id 5AN9002b (version=TLSv1/SSLv3 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NO); Mon, 23 Nov 2026 01:00:02 -0800",
			want: Hop{From: "ws", FromHost: "ws.example.com", FromIP: "198.51.100.61", By: "mail.example.com", With: "ESMTPSA", TLS: true,
				TLSVersion: "TLS1.0", Auth: true, ID: "5AN9002b"},
			date: "2026-11-23T01:00:02-08:00",
		},
		{
			name: "sendmail submit",
			in:   "(from monitor@localhost) by workstation.example.com (8.17.1/8.17.1/Submit) id 5AN9001c012344; Mon, 23 Nov 2026 01:00:01 -0800",
			want: Hop{By: "workstation.example.com", ID: "5AN9001c012344"},
			date: "2026-11-23T01:00:01-08:00",
		},
		{
			name: "IPv6 address literal",
			in:   "from [IPv6:2001:db8::1] (unknown [IPv6:2001:DB8::1]) by mx.example.org with UTF8SMTPS id 1; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "[IPv6:2001:db8::1]", FromIP: "2001:db8::1", By: "mx.example.org", With: "UTF8SMTPS", TLS: true, ID: "1"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "address literal without a comment",
			in:   "from [IPv6:2001:db8::2] by mx.example.org with LMTPSA; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "[IPv6:2001:db8::2]", FromIP: "2001:db8::2", By: "mx.example.org", With: "LMTPSA", TLS: true, Auth: true},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "courier, EHLO comment and AUTH",
			in: "from mail.example.com (EHLO laptop.example) ([192.0.2.8]) (AUTH: LOGIN monitor@example.com, TLS: TLSv1/SSLv3,256bits,ECDHE-RSA-AES256-GCM-SHA384) " +
				"by mx.example.net with ESMTPSA; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "laptop.example", FromHost: "mail.example.com", FromIP: "192.0.2.8", By: "mx.example.net", With: "ESMTPSA",
				TLS: true, TLSVersion: "TLS1.0", Auth: true},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "gmx, Nemesis, port after the literal",
			in:   "from [192.0.2.23] ([198.51.100.7]:51234) by mail.gmx.test (mrgmx104 [203.0.113.168]) with ESMTPSA (Nemesis) id 1M3abc; Mon, 23 Nov 2026 10:00:03 +0100",
			want: Hop{From: "[192.0.2.23]", FromIP: "198.51.100.7", By: "mail.gmx.test", With: "ESMTPSA", TLS: true, Auth: true, ID: "1M3abc"},
			date: "2026-11-23T10:00:03+01:00",
		},
		{
			name: "zoho, space before ';'",
			in:   "from [192.0.2.5] (198.51.100.5 [198.51.100.5]) by mx.zoho.test with SMTPS id 1763888402001234.5678 ; Mon, 23 Nov 2026 01:00:02 -0800 (PST)",
			want: Hop{From: "[192.0.2.5]", FromIP: "198.51.100.5", By: "mx.zoho.test", With: "SMTPS", TLS: true, ID: "1763888402001234.5678"},
			date: "2026-11-23T01:00:02-08:00",
		},
		{
			name: "mimecast, a second with clause",
			in:   "from mail.example.com (mail.example.com [192.0.2.3]) by relay.mimecast.test with ESMTP with both STARTTLS and AUTH id us-mta-1; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "mail.example.com", FromHost: "mail.example.com", FromIP: "192.0.2.3", By: "relay.mimecast.test", With: "ESMTP",
				TLS: true, Auth: true, ID: "us-mta-1"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "keywords in any case and order",
			in:   "BY mx.example.net FROM mail.example.org ID abc With esmtp FOR <Probe@Example.net> VIA TCP; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "mail.example.org", By: "mx.example.net", Via: "TCP", With: "ESMTP", ID: "abc", For: "Probe@Example.net"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "nested comments holding ';', '=', '[' and '('",
			in: "from a.example (b.example [192.0.2.1] (note; x=y [z] (deeper; (still)))) by mx.example.org (c; d=e [f]) with ESMTP " +
				"(g (h; i)) id 1; Mon, 23 Nov 2026 09:00:00 +0000 (UTC; really)",
			want: Hop{From: "a.example", FromHost: "b.example", FromIP: "192.0.2.1", By: "mx.example.org", With: "ESMTP", ID: "1"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "quoted local-part in for",
			in:   `by mx.example.org with ESMTP id 1 for <"first last"@example.org>; Mon, 23 Nov 2026 09:00:00 +0000`,
			want: Hop{By: "mx.example.org", With: "ESMTP", ID: "1", For: `"first last"@example.org`},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "not authenticated",
			in:   "from a.example (a.example [192.0.2.1]) (not authenticated) by mx.example.org with ESMTP; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "a.example", FromHost: "a.example", FromIP: "192.0.2.1", By: "mx.example.org", With: "ESMTP"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "host name holding tls is no version",
			in:   "from tlsv1.example.net (tlsv1.example.net [192.0.2.1]) by tls1.example.org with SMTP; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "tlsv1.example.net", FromHost: "tlsv1.example.net", FromIP: "192.0.2.1", By: "tls1.example.org", With: "SMTP"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "trailing comments after the date",
			in:   "by mx.example.org with SMTP; Mon, 23 Nov 2026 09:00:00 +0000 (UTC) (envelope-from <a@example.com>)",
			want: Hop{By: "mx.example.org", With: "SMTP"},
			date: "2026-11-23T09:00:00Z",
		},
		{
			name: "several ';', the last one counts",
			in:   "from a.example by mx.example.org; with ESMTP; id 7; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "a.example", By: "mx.example.org", With: "ESMTP", ID: "7"},
			date: "2026-11-23T09:00:00Z",
		},
		// Defects: what can be read is kept, Err names the rest.
		{
			name: "no date",
			in:   "from a.example (a.example [192.0.2.1]) by mx.example.org with ESMTP id 1",
			want: Hop{From: "a.example", FromHost: "a.example", FromIP: "192.0.2.1", By: "mx.example.org", With: "ESMTP", ID: "1"},
			err:  "no date",
		},
		{
			name: "no date after the ';'",
			in:   "by mx.example.org with ESMTP id 1;",
			want: Hop{By: "mx.example.org", With: "ESMTP", ID: "1"},
			err:  "no date",
		},
		{
			name: "a date but no ';'",
			in:   "from a.example by mx.example.org with ESMTP id 1 Mon, 23 Nov 2026 09:00:00 +0000 (UTC)",
			want: Hop{From: "a.example", By: "mx.example.org", With: "ESMTP", ID: "1"},
			date: "2026-11-23T09:00:00Z",
			err:  "offset 49: no ';' before the date",
		},
		{
			name: "a date but no ';', right after a with value",
			in:   "by mx.example.org with ESMTP Mon 23 Nov 2026 09:00 GMT",
			want: Hop{By: "mx.example.org", With: "ESMTP"},
			date: "2026-11-23T09:00:00Z",
			err:  "no ';' before the date",
		},
		{
			name: "a date before the last ';'",
			in:   "by mx.example.org; Mon, 23 Nov 2026 09:00:00 +0000;",
			want: Hop{By: "mx.example.org"},
			date: "2026-11-23T09:00:00Z",
			err:  "date before the last ';'",
		},
		{
			name: "unreadable date",
			in:   "by mx.example.org with ESMTP id 1; yesterday at noon",
			want: Hop{By: "mx.example.org", With: "ESMTP", ID: "1"},
			err:  `date: expected a day, found "yesterday"`,
		},
		{
			name: "text after the date",
			in:   "by mx.example.org; Mon, 23 Nov 2026 09:00:00 +0000 and more",
			want: Hop{By: "mx.example.org"},
			date: "2026-11-23T09:00:00Z",
			err:  `text after the date: "and more"`,
		},
		{
			name: "unknown word and a clause without a value",
			in:   "from by mx.example.org banana with ESMTP; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{By: "mx.example.org", With: "ESMTP"},
			date: "2026-11-23T09:00:00Z",
			err:  `offset 0: from without a value; offset 23: unexpected "banana"`,
		},
		{
			name: "repeated clause",
			in:   "by mx.example.org by other.example.org id 1; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{By: "mx.example.org", ID: "1"},
			date: "2026-11-23T09:00:00Z",
			err:  `second "by" clause ignored`,
		},
		{
			name: "unclosed comment holding the ';'",
			in:   "from a.example (a.example [192.0.2.1] by mx.example.org; Mon, 23 Nov 2026 09:00:00 +0000",
			want: Hop{From: "a.example", FromHost: "a.example", FromIP: "192.0.2.1"},
			date: "2026-11-23T09:00:00Z",
			err:  "unclosed comment",
		},
		{
			name: "unclosed quoted string",
			in:   `by mx.example.org for <"open@example.org>; Mon, 23 Nov 2026 09:00:00 +0000`,
			// The quote hides the ';', so the last ';' inside it is taken.
			want: Hop{By: "mx.example.org", For: `"open@example.org`},
			date: "2026-11-23T09:00:00Z",
			err:  "unclosed quoted string",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHop(t, tc.in, ParseReceived(tc.in), tc.want, tc.date, tc.err)
		})
	}
}

// TestReceivedDate covers the date-time forms of RFC 5322 sections 3.3 and
// 4.3 and the slips seen in the wild.
func TestReceivedDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339, "" for none
		err  string // a part of Err, "" when clean
	}{
		{in: "Mon, 23 Nov 2026 09:00:00 +0000", want: "2026-11-23T09:00:00Z"},
		{in: "23 Nov 2026 09:00:00 -0000", want: "2026-11-23T09:00:00Z"},
		{in: "Tue, 3 Nov 2026 09:00:00 +0100", want: "2026-11-03T09:00:00+01:00"},
		{in: "Tue, 03 Nov 2026 09:00:00 +0100", want: "2026-11-03T09:00:00+01:00"},
		{in: "Tue, 3 Nov 26 09:00:00 +0000", want: "2026-11-03T09:00:00Z"},
		{in: "3 Nov 49 09:00:00 +0000", want: "2049-11-03T09:00:00Z"},
		{in: "3 Nov 50 09:00:00 +0000", want: "1950-11-03T09:00:00Z"},
		{in: "Wed, 3 Nov 99 09:00:00 +0000", want: "1999-11-03T09:00:00Z"},
		{in: "3 Nov 126 09:00:00 +0000", want: "2026-11-03T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 09:00 +0000", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 9:05:07 +0000", want: "2026-11-23T09:05:07Z"},
		{in: "Mon,  23   Nov  2026   09:00:00    +0000  ", want: "2026-11-23T09:00:00Z"},
		{in: "Mon,23 Nov 2026 09:00:00+0000", want: "2026-11-23T09:00:00Z"},
		{in: "Mon 23 Nov 2026 09:00:00 +0000", want: "2026-11-23T09:00:00Z"},
		{in: "Monday, 23 November 2026 09:00:00 +0000", want: "2026-11-23T09:00:00Z"},
		{in: "mon, 23 nov 2026 09:00:00 +0000", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 (day) Nov (month) 2026 09 : 00 : 00 (zone:) +0000", want: "2026-11-23T09:00:00Z"},
		{in: "\r\n\tMon, 23 Nov 2026 09:00:00 +0000", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 01:00:00 -0800 (PST)", want: "2026-11-23T01:00:00-08:00"},
		{in: "Mon, 23 Nov 2026 09:00:00 +0000 (UTC)", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 10:00:00 +0100 (CET)", want: "2026-11-23T10:00:00+01:00"},
		{in: "Mon, 23 Nov 2026 10:00:00 +0100 CET", want: "2026-11-23T10:00:00+01:00"},
		{in: "Mon, 23 Nov 2026 14:30:00 +0530", want: "2026-11-23T14:30:00+05:30"},
		{in: "Mon, 23 Nov 2026 14:30:00 +05:30", want: "2026-11-23T14:30:00+05:30"},
		{in: "Mon, 23 Nov 2026 09:00:00 UT", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 09:00:00 GMT", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 09:00:00 Z", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 09:00:00 UTC", want: "2026-11-23T09:00:00Z"},
		{in: "Mon, 23 Nov 2026 04:00:00 EST", want: "2026-11-23T04:00:00-05:00"},
		{in: "Mon, 23 Nov 2026 05:00:00 EDT", want: "2026-11-23T05:00:00-04:00"},
		{in: "Mon, 23 Nov 2026 03:00:00 CST", want: "2026-11-23T03:00:00-06:00"},
		{in: "Mon, 23 Nov 2026 04:00:00 CDT", want: "2026-11-23T04:00:00-05:00"},
		{in: "Mon, 23 Nov 2026 02:00:00 MST", want: "2026-11-23T02:00:00-07:00"},
		{in: "Mon, 23 Nov 2026 03:00:00 MDT", want: "2026-11-23T03:00:00-06:00"},
		{in: "Mon, 23 Nov 2026 01:00:00 pst", want: "2026-11-23T01:00:00-08:00"},
		{in: "Mon, 23 Nov 2026 02:00:00 PDT", want: "2026-11-23T02:00:00-07:00"},
		{in: "Mon, 23 Nov 2026 09:00:00 A", want: "2026-11-23T09:00:00Z"}, // military: read as -0000
		{in: "Mon, 23 Nov 2026 23:59:60 +0000", want: "2026-11-24T00:00:00Z"},
		{in: "Mon, 23 Nov 2026 09:00:00 CET", want: "2026-11-23T09:00:00Z", err: `unknown zone "CET" read as UTC`},
		{in: "Mon, 23 Nov 2026 09:00:00", want: "2026-11-23T09:00:00Z", err: "no zone, read as UTC"},
		{in: "Mon, 23 Nov 2026 09:00:00 +9", want: "2026-11-23T09:00:00Z", err: "no zone"},
		{in: "Mon, 31 Nov 2026 09:00:00 +0000", err: "no day 31 in November"},
		{in: "Mon, 23 Nox 2026 09:00:00 +0000", err: `expected a month, found "Nox"`},
		{in: "Mon, 23 Nov 2026 25:00:00 +0000", err: "out of range"},
		{in: "Mon, 23 Nov 2026", err: "expected a time"},
		{in: "Mon, 23 Nov 20261 09:00:00 +0000", err: "expected a year"},
		{in: "Mon, 123 Nov 2026 09:00:00 +0000", err: "expected a day of the month"},
		{in: "2026-11-23T09:00:00Z", err: `expected a day of the month, found "2026-11-23T09:00:00Z"`},
	} {
		in := "by mx.example.org; " + tc.in
		h := ParseReceived(in)
		checkHop(t, in, h, Hop{By: "mx.example.org"}, tc.want, tc.err)
	}
}

// TestParseReceivedHostile: garbage gives Err, bounded, and neither a panic
// nor a hang; the sizes would show quadratic work at once.
func TestParseReceivedHostile(t *testing.T) {
	const mb = 1 << 20
	for name, in := range map[string]string{
		"open parens":        strings.Repeat("(", mb),
		"closed parens":      strings.Repeat("(", mb/2) + strings.Repeat(")", mb/2),
		"open parens after":  "by mx.example.org; Mon, 23 Nov 2026 09:00:00 +0000 " + strings.Repeat("(", mb),
		"escaped parens":     strings.Repeat(`(\`, mb/2),
		"semicolons":         strings.Repeat(";", mb),
		"only ';'":           ";",
		"words":              strings.Repeat("banana ", mb/7),
		"keywords":           strings.Repeat("from ", mb/5),
		"with words":         "with " + strings.Repeat("a ", mb/2),
		"day names":          strings.Repeat("Mon ", mb/4),
		"dates":              strings.Repeat("1 Jan 2026 ", mb/11),
		"quotes":             strings.Repeat(`"`, mb),
		"brackets":           strings.Repeat("[", mb),
		"angles":             "for " + strings.Repeat("<", mb),
		"tls":                strings.Repeat("(TLSv", mb/5),
		"NUL bytes":          "from a\x00b (\x00 [192.0.2.1\x00]) by \x00; Mon, 23 Nov 2026 09:00:00 +0000\x00",
		"unicode":            "from ñandú.example (ñandú.example [192.0.2.1]) by 例え.テスト with ESMTP; Mön, 23 Nov 2026 09:00:00 +0000",
		"invalid UTF-8":      "from \xff\xfe by \xc3; \xff",
		"long word":          "from " + strings.Repeat("a", mb) + "; x",
		"only a comment":     "(just a comment)",
		"whitespace":         " \t\r\n ",
		"unclosed in date":   "by mx.example.org; Mon, 23 Nov 2026 09:00:00 +0000 (PST",
		"backslash at end":   `by mx.example.org (\`,
		"many problems":      strings.Repeat("from by ", 1000),
		"zone comment chain": "by x; 1 Jan 2026 00:00 +0000" + strings.Repeat(" (a)", mb/4) + " x",
	} {
		t.Run(name, func(t *testing.T) {
			h := ParseReceived(in)
			if h.Err == "" {
				t.Errorf("ParseReceived(%.40q...) Err is empty, want a problem", in)
			}
			if len(h.Err) > 400 {
				t.Errorf("ParseReceived(%.40q...) Err is %d bytes, want under 400: %.200q", in, len(h.Err), h.Err)
			}
		})
	}
	h := ParseReceived("from ñandú.example (ñandú.example [192.0.2.1]) by 例え.テスト with ESMTP; Mon, 23 Nov 2026 09:00:00 +0000")
	if h.From != "ñandú.example" || h.FromIP != "192.0.2.1" || h.By != "例え.テスト" || h.Err != "" {
		t.Errorf("unicode names: got %+v", h)
	}
}

func TestHops(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		d, err := time.Parse(time.RFC1123Z, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Header order: the newest field first.
	values := []string{
		"from c.example by d.example with ESMTP id 5; Mon, 23 Nov 2026 09:00:09 +0000",
		"from b.example by c.example with ESMTP id 4; Mon, 23 Nov 2026 04:00:04 -0500", // 09:00:04Z: 2s skew
		"from b.example by b.example with ESMTP id 3; at noon",                         // unreadable
		"from a.example by b.example with ESMTP id 2; Mon, 23 Nov 2026 10:00:06 +0100",
		"from a.example by a.example with ESMTPSA id 1; Mon, 23 Nov 2026 09:00:01 +0000",
	}
	submitted := at("Mon, 23 Nov 2026 08:59:58 +0000")
	type delay struct {
		id    string
		d     time.Duration
		known bool
		skew  bool
	}
	check := func(t *testing.T, hops []Hop, want []delay) {
		t.Helper()
		var got []delay
		for _, h := range hops {
			got = append(got, delay{h.ID, h.Delay, h.DelayKnown, h.Skew})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Hops delays\n got %+v\nwant %+v", got, want)
		}
	}
	t.Run("submitted", func(t *testing.T) {
		check(t, Hops(values, submitted), []delay{
			{"1", 3 * time.Second, true, false},
			{"2", 5 * time.Second, true, false},
			{"3", 0, false, false},              // its date is unreadable: no delay
			{"4", -2 * time.Second, true, true}, // measured from hop 2, the last dated one
			{"5", 5 * time.Second, true, false},
		})
	})
	t.Run("not submitted", func(t *testing.T) {
		hops := Hops(values, time.Time{})
		if hops[0].DelayKnown || hops[0].Delay != 0 {
			t.Errorf("first hop without submission: Delay %v known %v, want none", hops[0].Delay, hops[0].DelayKnown)
		}
		if !hops[1].DelayKnown || hops[1].Delay != 5*time.Second {
			t.Errorf("second hop: Delay %v known %v, want 5s", hops[1].Delay, hops[1].DelayKnown)
		}
	})
	t.Run("first hop undated", func(t *testing.T) {
		check(t, Hops([]string{values[0], "by a.example id 1"}, submitted), []delay{
			{"1", 0, false, false},
			{"5", 11 * time.Second, true, false}, // from the submission
		})
	})
	t.Run("first hop in the second of submission", func(t *testing.T) {
		// Submitted at 09:00:01.700; the first hop wrote 09:00:01: whole seconds, not skew.
		check(t, Hops([]string{values[4]}, submitted.Add(3*time.Second+700*time.Millisecond)), []delay{
			{"1", 0, true, false},
		})
		// A full second before the submission is a clock's fault.
		check(t, Hops([]string{values[4]}, submitted.Add(4*time.Second+100*time.Millisecond)), []delay{
			{"1", -1100 * time.Millisecond, true, true},
		})
	})
	if hops := Hops(nil, submitted); len(hops) != 0 {
		t.Errorf("Hops(nil) = %+v, want none", hops)
	}
}

// TestReceivedChains parses each testdata/received/*.txt header block and
// compares its hops with the .golden file next to it; go test -update
// rewrites them. Samples named malformed-* must show a problem, the others
// none.
func TestReceivedChains(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "received", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata/received: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			hops, submitted := readChain(t, file)
			if len(hops) < 3 {
				t.Errorf("%s: %d hops, want a chain of at least 3", file, len(hops))
			}
			var bad bool
			for _, h := range hops {
				bad = bad || h.Err != "" || !h.DelayKnown
			}
			if bad != strings.HasPrefix(name, "malformed-") {
				t.Errorf("%s: a hop with a problem or no delay: %v, want %v", file, bad, !bad)
			}
			golden(t, strings.TrimSuffix(file, ".txt")+".golden", []byte(formatChain(name, submitted, hops)))
		})
	}
}

// readChain reads a sample header block and returns its hops, measured from
// its Date field.
func readChain(t testing.TB, file string) ([]Hop, time.Time) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fs, errs := ReadFields(b)
	if len(errs) > 0 {
		t.Fatalf("%s: %q", file, errs)
	}
	submitted, _, note, problem := readDate(fs.Get("Date"), 0)
	if problem != "" || note != "" {
		t.Fatalf("%s: Date: %s%s", file, problem, note)
	}
	return Hops(fs.Values("Received"), submitted), submitted
}

// formatChain writes one hop per line, oldest first, with only the fields
// that are set, so that a reviewer reads the golden diff.
func formatChain(name string, submitted time.Time, hops []Hop) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s.txt: submitted %s, hops oldest first\n", name, submitted.Format(time.RFC3339))
	for i, h := range hops {
		fmt.Fprintf(&b, "%d:", i+1)
		for _, kv := range [...]struct{ k, v string }{
			{"from", h.From}, {"host", h.FromHost}, {"ip", h.FromIP}, {"by", h.By}, {"via", h.Via},
			{"with", h.With}, {"id", h.ID}, {"for", h.For},
		} {
			if kv.v != "" {
				fmt.Fprintf(&b, " %s=%s", kv.k, quoteIfNeeded(kv.v))
			}
		}
		switch {
		case h.TLSVersion != "":
			b.WriteString(" tls=" + h.TLSVersion)
		case h.TLS:
			b.WriteString(" tls")
		}
		if h.Auth {
			b.WriteString(" auth")
		}
		if !h.Date.IsZero() {
			b.WriteString(" date=" + h.Date.Format(time.RFC3339))
		}
		switch {
		case h.Skew:
			fmt.Fprintf(&b, " delay=%v skew", h.Delay)
		case h.DelayKnown:
			fmt.Fprintf(&b, " delay=%v", h.Delay)
		default:
			b.WriteString(" delay=?")
		}
		if h.Err != "" {
			b.WriteString(" err=" + strconv.Quote(h.Err))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " \t\"\\") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}

// BenchmarkParseReceived reads the five Received fields of a typical chain
// (submission, content filter, MX, MX filter, LMTP) into hops.
func BenchmarkParseReceived(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "received", "postfix-dovecot.txt"))
	if err != nil {
		b.Fatal(err)
	}
	fs, _ := ReadFields(raw)
	values := fs.Values("Received")
	if len(values) != 5 {
		b.Fatalf("%d Received fields, want 5", len(values))
	}
	submitted := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		for _, h := range Hops(values, submitted) {
			if h.Err != "" {
				b.Fatal(h.Err)
			}
		}
	}
}
