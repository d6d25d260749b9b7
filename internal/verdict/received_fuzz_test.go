package verdict

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseReceived checks that any value parses without a panic, the same
// way twice, into a hop that keeps the package's promises, and that Hops
// keeps one hop per value.
func FuzzParseReceived(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "received", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/received: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b)) // a whole header block makes a fine garbage value
		fs, _ := ReadFields(b)
		for _, v := range fs.Values("Received") {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseReceived(s)
		if again := ParseReceived(s); !sameHop(h, again) {
			t.Fatalf("ParseReceived(%q) differs between two calls:\n%+v\n%+v", s, h, again)
		}
		// Raw is unfolded once and for all: parsing it again changes nothing.
		if h.Raw != unfold(s) {
			t.Fatalf("ParseReceived(%q) Raw = %q, want it unfolded", s, h.Raw)
		}
		if again := ParseReceived(h.Raw); !sameHop(h, again) {
			t.Fatalf("ParseReceived(Raw of %q) = %+v, want %+v", s, again, h)
		}
		if len(h.Err) > 1000 {
			t.Fatalf("ParseReceived(%q) Err is %d bytes, want it bounded", s, len(h.Err))
		}
		// A clean hop has a date; only Hops sets delays.
		if h.Err == "" && h.Date.IsZero() {
			t.Fatalf("ParseReceived(%q) has no date and no Err", s)
		}
		if h.Delay != 0 || h.DelayKnown || h.Skew {
			t.Fatalf("ParseReceived(%q) set a delay: %+v", s, h)
		}
		if h.TLSVersion != "" && !h.TLS {
			t.Fatalf("ParseReceived(%q) TLSVersion %q without TLS", s, h.TLSVersion)
		}
		if h.FromIP != "" {
			if _, err := netip.ParseAddr(h.FromIP); err != nil {
				t.Fatalf("ParseReceived(%q) FromIP %q: %v", s, h.FromIP, err)
			}
		}
		if strings.HasPrefix(h.For, "<") || strings.HasSuffix(h.FromHost, ".") {
			t.Fatalf("ParseReceived(%q) For %q, FromHost %q: want no '<' or trailing dot", s, h.For, h.FromHost)
		}
		if !h.Date.IsZero() && (h.Date.Year() > 9999 || h.Date.Year() < 0) {
			t.Fatalf("ParseReceived(%q) Date %v out of range", s, h.Date)
		}

		// Hops: one hop per value, oldest first, and a delay exactly when two
		// dates are known.
		hops := Hops([]string{s, "by mx.example.org; Mon, 23 Nov 2026 09:00:00 +0000", s}, time.Time{})
		if len(hops) != 3 {
			t.Fatalf("Hops of 3 values gave %d hops", len(hops))
		}
		if !sameHop(hops[0], h) || hops[1].By != "mx.example.org" {
			t.Fatalf("Hops(%q...) out of order: %+v", s, hops)
		}
		if hops[0].DelayKnown || hops[1].DelayKnown != !h.Date.IsZero() || hops[2].DelayKnown != !h.Date.IsZero() {
			t.Fatalf("Hops(%q...) delays known: %v %v %v", s, hops[0].DelayKnown, hops[1].DelayKnown, hops[2].DelayKnown)
		}
		for _, hop := range hops {
			if hop.Skew != (hop.Delay < 0) || !hop.DelayKnown && hop.Delay != 0 {
				t.Fatalf("Hops(%q...) hop %+v: Skew must mean a negative known delay", s, hop)
			}
		}
	})
}

// sameHop compares hops whose delays are zero: times by instant and offset,
// since each parse builds its own time.Location.
func sameHop(a, b Hop) bool {
	_, offA := a.Date.Zone()
	_, offB := b.Date.Zone()
	if !a.Date.Equal(b.Date) || offA != offB {
		return false
	}
	a.Date, b.Date = time.Time{}, time.Time{}
	a.Delay, a.DelayKnown, a.Skew = 0, false, false
	b.Delay, b.DelayKnown, b.Skew = 0, false, false
	return a == b
}
