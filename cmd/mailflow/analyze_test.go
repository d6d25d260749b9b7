package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailflow/mailflow/internal/report"
)

const outlookHeader = "Authentication-Results: spf=pass (sender IP is 192.0.2.10)\r\n" +
	" smtp.mailfrom=example.com; dkim=pass (signature was verified)\r\n" +
	" header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass\r\n" +
	" reason=100\r\n" +
	"Authentication-Results: mx.evil.example; spf=pass; dmarc=pass (\r\n" +
	"From: Example <news@example.com>\r\n" +
	"\r\n" +
	"body\r\n"

func TestAnalyze(t *testing.T) {
	file := filepath.Join(t.TempDir(), "outlook.eml")
	if err := os.WriteFile(file, []byte(outlookHeader), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"analyze", "--provider", "Outlook", file, "--json"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, want 0: %s", code, errOut.String())
	}
	var a report.AnalysisJSON
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	s := a.Summary
	if s.SPF != "pass" || s.DMARC != "pass" || s.DMARCDisposition != "none" || s.CompAuth != "pass" || s.CompAuthReason != "100" {
		t.Errorf("summary = %+v, want Microsoft's results trusted through the provider", s)
	}
	if len(a.Errors) != 1 || !strings.Contains(a.Errors[0], "mx.evil.example") {
		t.Errorf("errors = %q, want the broken second field named", a.Errors)
	}

	// Without trust nothing is summarised, and the report says how to trust.
	out.Reset()
	if code := run(t.Context(), []string{"analyze", file}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(out.String(), "--trust") || !strings.Contains(out.String(), "not understood") {
		t.Errorf("report without trust:\n%s\nwant the --trust hint and the parse problem", out.String())
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"analyze"}, exitUsage, "usage"},
		{[]string{"analyze", file, file}, exitUsage, "usage"},
		{[]string{"analyze", "--provider", "nope", file}, exitUsage, "not in the catalog"},
		{[]string{"analyze", filepath.Join(t.TempDir(), "missing.eml")}, exitFailed, "no such file"},
	} {
		errOut.Reset()
		if code := run(t.Context(), tc.args, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("%q: exit %d %q, want %d and %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
	}
}

func TestAnalyzeRefusesWhatIsNotAMessage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(file, []byte("just some words\nand more\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"analyze", file}, &out, &errOut); code != exitFailed || !strings.Contains(errOut.String(), "not a message") {
		t.Errorf("exit %d %q, want %d and \"not a message\"", code, errOut.String(), exitFailed)
	}
}
