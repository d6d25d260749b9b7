package verdict

import (
	"strings"
	"testing"
)

func TestReadFields(t *testing.T) {
	header := "Received: from a.example (a.example [192.0.2.1])\r\n\tby mx.example with ESMTPS id 1;\r\n Mon, 2 Nov 2026 10:00:00 +0000\r\n" +
		"garbage line without a colon\n" +
		"Subject:  hello \n" +
		"X-Empty:\n" +
		"\n" +
		"Body: not a header\n"
	fs, errs := ReadFields([]byte(header))
	if len(fs) != 3 {
		t.Fatalf("fields = %+v, want 3", fs)
	}
	if want := "from a.example (a.example [192.0.2.1])\tby mx.example with ESMTPS id 1; Mon, 2 Nov 2026 10:00:00 +0000"; fs[0].Value != want {
		t.Errorf("unfolded = %q, want %q", fs[0].Value, want)
	}
	if fs.Get("subject") != "hello" || fs.Get("x-empty") != "" || len(fs.Values("RECEIVED")) != 1 {
		t.Errorf("lookups wrong: %+v", fs)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "line 4") {
		t.Errorf("errors = %q, want one naming line 4", errs)
	}
	if _, errs := ReadFields([]byte("just text, no header at all")); len(errs) == 0 {
		t.Error("text without a field gave no error")
	}
	if _, errs := ReadFields(nil); len(errs) == 0 {
		t.Error("an empty header gave no error")
	}
}
