package seedbox

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailflow/mailflow/internal/lab"
)

// fakeGmail answers the few commands the tab lookup sends, as Gmail does:
// labels on FETCH (one of them a literal), category searches by X-GM-RAW.
// It records the commands it got.
func fakeGmail(t *testing.T, reply func(cmd string) []string) (addr string, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 32)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "* OK Gimap ready\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			got <- cmd
			for _, l := range reply(cmd) {
				fmt.Fprint(c, l+"\r\n")
			}
			fmt.Fprintf(c, "%s OK done\r\n", tag)
			if cmd == "LOGOUT" {
				return
			}
		}
	}()
	return ln.Addr().String(), got
}

func plainAccount(addr string) Account {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return Account{Name: "g", Host: host, Port: n, Security: SecurityNone, Username: "seed@gmail.test",
		Password: `p"w\d`, Timeout: 2 * time.Second}
}

func TestLookupTabs(t *testing.T) {
	addr, got := fakeGmail(t, func(cmd string) []string {
		switch {
		case strings.HasPrefix(cmd, "UID FETCH"):
			return []string{
				`* 1 FETCH (UID 7 X-GM-LABELS ("\\Important" "CATEGORY_SOCIAL"))`,
				"* 2 FETCH (UID 8 X-GM-LABELS ({10}\r\nMy (label)))",
			}
		case strings.Contains(cmd, `"category:promotions"`):
			return []string{"* SEARCH 8"}
		case strings.HasPrefix(cmd, "UID SEARCH"):
			return []string{"* SEARCH"}
		}
		return nil
	})
	tabs, err := lookupTabs(context.Background(), plainAccount(addr), "INBOX", []imap.UID{7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	want := map[imap.UID]string{7: "social", 8: "promotions", 9: TabPrimary}
	for uid, tab := range want {
		if tabs[uid] != tab {
			t.Errorf("tab of %d = %q, want %q (all: %v)", uid, tabs[uid], tab, tabs)
		}
	}
	if login := <-got; login != `LOGIN "seed@gmail.test" "p\"w\\d"` {
		t.Errorf("login = %s, want the password quoted", login)
	}
	if examine := <-got; examine != `EXAMINE "INBOX"` {
		t.Errorf("second command %s, want a read-only EXAMINE", examine)
	}
}

func TestLookupTabsGivesUpOnAHostileServer(t *testing.T) {
	addr, _ := fakeGmail(t, func(cmd string) []string {
		if strings.HasPrefix(cmd, "UID FETCH") {
			return []string{"* 1 FETCH (X-GM-LABELS ({999999999}"} // a literal too big to read
		}
		return nil
	})
	start := time.Now()
	if _, err := lookupTabs(context.Background(), plainAccount(addr), "INBOX", []imap.UID{1}); err == nil {
		t.Error("a literal of a gigabyte was accepted")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s, want the timeout to bound it", d)
	}
}

func TestLabelTab(t *testing.T) {
	for line, want := range map[string]string{
		`1 FETCH (X-GM-LABELS (\Inbox "\\Promotions") UID 12)`: "promotions",
		`1 FETCH (UID 12 X-GM-LABELS (CATEGORY_PERSONAL))`:     TabPrimary,
		`1 FETCH (UID 12 X-GM-LABELS ("category:forums"))`:     "forums",
		`1 FETCH (UID 12 X-GM-LABELS ())`:                      "",
		`1 FETCH (UID 12)`:                                     "",
	} {
		if uid, tab := labelTab(line); tab != want || uid != 12 {
			t.Errorf("labelTab(%s) = %d %q, want 12 %q", line, uid, tab, want)
		}
	}
}

// A server that announces X-GM-EXT-1 but answers BAD: the probe is still
// found in the inbox, without a tab, and the folder goes on watching.
func TestBrokenGmailExtensionStillFinds(t *testing.T) {
	l := newLabWith(t, lab.Options{GmailCaps: true})
	acct := account(t, l, "alice", l.IMAP, SecurityTLS)
	acct.Limiter = NewLimiter(2)
	ctx, w, found := watch(t, acct)
	for range 2 {
		tok := token(t)
		w.Expect(found, tok)
		deliver(t, l, "alice", tok)
		select {
		case f := <-found:
			if f.Token != tok || f.Role != RoleInbox || f.Tab != "" {
				t.Errorf("found %s in %s tab %q, want our token in the inbox, no tab", f.Token, f.Role, f.Tab)
			}
		case <-ctx.Done():
			t.Fatal("probe not found after the tab lookup failed")
		}
	}
	if _, peak := l.IMAPConnections(); peak > 2 {
		t.Errorf("peak IMAP sessions %d, want at most 2: the lookup borrows the folder's slot", peak)
	}
}

func TestLookupTabsBoundsLinesAndSilence(t *testing.T) {
	addr, _ := fakeGmail(t, func(cmd string) []string {
		if strings.HasPrefix(cmd, "UID FETCH") {
			return []string{"* 1 FETCH (X-GM-LABELS (" + strings.Repeat("x", 200<<10) + "))"}
		}
		return nil
	})
	if _, err := lookupTabs(context.Background(), plainAccount(addr), "INBOX", []imap.UID{1}); err == nil ||
		!strings.Contains(err.Error(), "over") {
		t.Errorf("a 200 kB line: %v, want it refused", err)
	}

	// A server that accepts and never greets is given up on at the timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			time.Sleep(5 * time.Second)
		}
	}()
	acct := plainAccount(ln.Addr().String())
	acct.Timeout = 200 * time.Millisecond
	start := time.Now()
	if _, err := lookupTabs(context.Background(), acct, "INBOX", []imap.UID{1}); err == nil {
		t.Error("a silent server gave no error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("waited %s for a silent server, want about the 200ms timeout", d)
	}
}
