package lab

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapLogin logs a seed in over the lab's implicit-TLS IMAP listener.
func imapLogin(t *testing.T, l *Lab, seed string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	s, ok := l.Seed(seed)
	if !ok {
		t.Fatalf("lab has no seed %q", seed)
	}
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = clientTLS(l)
	c, err := imapclient.DialTLS(l.IMAP, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(s.Username, s.Password).Wait(); err != nil {
		t.Fatalf("login %s: %v", seed, err)
	}
	return c
}

func TestList(t *testing.T) {
	l := newLab(t)
	c := imapLogin(t, l, "alice", nil)
	for _, cap := range []imap.Cap{imap.CapIMAP4rev1, imap.CapIdle, imap.CapSpecialUse, imap.CapListExtended, imap.CapUIDPlus, imap.CapMove} {
		if !c.Caps().Has(cap) {
			t.Errorf("capabilities %v, want %s", c.Caps(), cap)
		}
	}
	for _, tc := range []struct {
		name string
		opts *imap.ListOptions
		want string
	}{
		{"RETURN (SPECIAL-USE)", &imap.ListOptions{ReturnSpecialUse: true}, `INBOX() Junk(\Junk)`},
		{"plain LIST", nil, `INBOX() Junk(\Junk)`},
		{"(SPECIAL-USE) selection", &imap.ListOptions{SelectSpecialUse: true}, `Junk(\Junk)`},
		{"RETURN (SUBSCRIBED)", &imap.ListOptions{ReturnSubscribed: true}, `INBOX(\Subscribed) Junk(\Junk \Subscribed)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := c.List("", "*", tc.opts).Collect()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range list {
				got = append(got, fmt.Sprintf("%s%v", m.Mailbox, m.Attrs))
			}
			want := strings.ReplaceAll(strings.ReplaceAll(tc.want, "(", "["), ")", "]")
			if strings.Join(got, " ") != want {
				t.Errorf("LIST: got %s, want %s", strings.Join(got, " "), want)
			}
		})
	}
	t.Run("folders made over IMAP", func(t *testing.T) {
		if err := c.Create("Archive", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrArchive}}).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Rename("Archive", "Old", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		list, err := c.List("", "Old", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
		if err != nil || len(list) != 1 || len(list[0].Attrs) != 1 || list[0].Attrs[0] != imap.MailboxAttrArchive {
			t.Fatalf("LIST Old: got %+v, %v, want Old with \\Archive", list, err)
		}
		if err := c.Delete("Old").Wait(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIMAPStartTLS(t *testing.T) {
	l := newLab(t)
	alice, _ := l.Seed("alice")
	plain, err := imapclient.DialInsecure(l.IMAPStartTLS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Login(alice.Username, alice.Password).Wait(); err == nil {
		t.Error("LOGIN before STARTTLS: got success, want a refusal")
	}
	c, err := imapclient.DialStartTLS(l.IMAPStartTLS, &imapclient.Options{TLSConfig: clientTLS(l)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice.Username, alice.Password).Wait(); err != nil {
		t.Fatalf("LOGIN after STARTTLS: got %v, want success", err)
	}
	if err := c.Login(alice.Username, "wrong").Wait(); err == nil {
		t.Error("second LOGIN: got success, want a refusal")
	}
}

func TestIdleSeesDelivery(t *testing.T) {
	l := newLab(t)
	exists := make(chan uint32, 16)
	c := imapLogin(t, l, "alice", &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := l.Seed("alice")
	monitor := "monitor@" + l.SenderDomain
	if _, err := send(dial(t, l, "plain-relay"), monitor, alice.Address, compose(monitor, alice.Address, newToken(t), "")); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS: got %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("got no EXISTS within 5s of delivery, want * 1 EXISTS")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}
