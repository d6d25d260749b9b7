package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/verdict"
	"github.com/mailflow/mailflow/seeds"
)

// maxMessage bounds what analyze reads: headers, not attachments, matter.
const maxMessage = 16 << 20

// analyzeCmd prints the verdict of one message's header: a file, or "-" for
// standard input. It exits 0 whatever the verdict, and non-zero only when the
// input cannot be read or is not a message at all.
func analyzeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flags("analyze", stderr)
	asJSON := fs.Bool("json", false, "print the analysis as JSON (schema in the README)")
	var trust multiFlag
	fs.Var(&trust, "trust", "trust Authentication-Results from this authserv-id (repeatable)")
	provider := fs.String("provider", "", "trust what the built-in catalog trusts for this provider (gmail, outlook, ...)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailflow analyze [--json] [--trust ID]... [--provider ID] FILE.eml | -")
		fs.PrintDefaults()
	}
	// Flags may come before or after the file name.
	files, code, ok := parseInterspersed(fs, args)
	if !ok {
		return code
	}
	if len(files) != 1 {
		fs.Usage()
		return exitUsage
	}
	t := verdict.Trust{IDs: trust}
	if *provider != "" {
		catalog, err := config.Catalog("seeds/providers.toml", seeds.Providers)
		if err != nil {
			fmt.Fprintln(stderr, "mailflow analyze:", err)
			return exitFailed
		}
		p, ok := catalog[strings.ToLower(*provider)]
		if !ok {
			fmt.Fprintf(stderr, "mailflow analyze: --provider %q is not in the catalog (one of: %s)\n", *provider, strings.Join(ids(catalog), ", "))
			return exitUsage
		}
		t.IDs = append(t.IDs, p.AuthservIDs...)
		t.TopmostWithoutID, t.SpamFilters = p.TrustTopmostWithoutID, p.SpamFilters
	}
	data, err := readInput(files[0], stdin)
	if err != nil {
		fmt.Fprintln(stderr, "mailflow analyze:", err)
		return exitFailed
	}
	a, err := verdict.Analyze(data, t, time.Time{})
	if errors.Is(err, verdict.ErrNotAMessage) {
		fmt.Fprintf(stderr, "mailflow analyze: %s: %v (give a message file, .eml, or its header as your mail client shows it)\n", files[0], err)
		return exitFailed
	}
	if *asJSON {
		err = report.WriteAnalysisJSON(stdout, a)
	} else {
		err = report.WriteAnalysis(stdout, a)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailflow analyze:", err)
		return exitFailed
	}
	return exitOK
}

// parseSome parses flags up to the first argument that is not one, and
// reports the exit status to use when it fails.
func parseSome(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxMessage+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxMessage {
		data = data[:maxMessage] // the header is at the start; the rest is body
	}
	return data, nil
}

func ids(catalog map[string]*config.Provider) []string {
	out := make([]string, 0, len(catalog))
	for id := range catalog {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
