// Command mailflow proves that mail really flows: it sends tagged probes through
// each submission path, finds them in seed mailboxes over IMAP, judges where they
// landed and how they authenticated, and stores every fact in SQLite.
//
// This package parses flags and wires the internal packages together; the work
// is done in internal/.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mailflow/mailflow/internal/config"
)

// Exit statuses shared by every subcommand (see README "Exit status").
const (
	exitOK      = 0
	exitProblem = 1
	exitFailed  = 2
	exitUsage   = 64
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `mailflow — synthetic end-to-end mail-flow tester

Usage:
  mailflow demo [--json] [--db FILE]          start the embedded lab and run one round through it
  mailflow probe --config FILE [--check NAME] [--json]
                                              run one round of each check (or of NAME) now
  mailflow probe --config FILE --nagios [-w 30s] [-c 120s]
                                              the same as a Nagios/Icinga plugin: one line, exit 0/1/2/3
  mailflow run --config FILE [--log-format text|json]
                                              the daemon: checks on their schedules, alerts, /metrics and the API
  mailflow seeds --config FILE [--stale-after 1h]
                                              log in to every seed: folders, roles, leftover probes
  mailflow config check --config FILE         validate a config and print what it resolved
  mailflow auth login NAME --config FILE [--device | --no-browser]
                                              OAuth2 login of a seed or path; stores its refresh token
  mailflow auth status --config FILE          token state of every OAuth2 seed and path
  mailflow report --config FILE [--since 24h] [--check NAME] [--by path|seed|provider|check] [--format table|json|csv]
                                              sent, placement %, round-trip percentiles, auth and TLS %
  mailflow analyze [--json] [--trust ID]... [--provider ID] FILE.eml | -
                                              read one message's header: authentication, verdicts
  mailflow alerts test --config FILE [--notifier NAME]
                                              send a test notification through each notifier (or NAME)

Exit status: 0 every probe in the inbox, 1 a probe in spam or missing,
2 a probe could not be sent or looked for (or the command could not run), 64 usage error.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr)
	case "probe":
		return probeCmd(ctx, args[1:], stdout, stderr)
	case "run":
		return runCmd(ctx, args[1:], stderr)
	case "seeds":
		return seedsCmd(ctx, args[1:], stdout, stderr)
	case "auth":
		return authCmd(ctx, args[1:], stdout, stderr)
	case "report":
		return reportCmd(ctx, args[1:], stdout, stderr)
	case "analyze":
		return analyzeCmd(args[1:], os.Stdin, stdout, stderr)
	case "alerts":
		return alertsCmd(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprintln(stderr, "mailflow config: the only subcommand is \"check\" (mailflow config check --config FILE)")
			return exitUsage
		}
		return configCheckCmd(args[2:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "mailflow: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// flags builds a subcommand's flag set; errors and -h go to stderr.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mailflow "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and reports the exit status to use when it fails.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if code, ok := parseSome(fs, args); !ok {
		return code, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

// roundFlags adds the flags of the commands that print probes.
func roundFlags(fs *flag.FlagSet) (asJSON *bool) {
	return fs.Bool("json", false, "print the probes as a JSON array")
}

// common is the flags shared by the commands that read a config: --config,
// and --log-level and --log-format where the command logs.
type common struct {
	fs     *flag.FlagSet
	config *string
	level  *string // nil when the command does not log
	format *string // nil when the command logs only as text
}

// commonFlags adds --config to fs, and --log-level (defaulting to level) unless
// level is "", and --log-format when withFormat is set.
func commonFlags(fs *flag.FlagSet, level string, withFormat bool) *common {
	c := &common{fs: fs, config: fs.String("config", "config.toml", "configuration `file`")}
	if level != "" {
		c.level = fs.String("log-level", level, "diagnostics on stderr: debug, info, warn or error")
	}
	if withFormat {
		c.format = fs.String("log-format", "text", "log format on stderr: text or json")
	}
	return c
}

// start parses args, makes the logger and loads the config. When ok is false
// it has said why on stderr, and code is the exit status to return.
func (c *common) start(args []string, stderr io.Writer) (cfg *config.Config, log *slog.Logger, code int, ok bool) {
	if code, ok := parse(c.fs, args); !ok {
		return nil, nil, code, false
	}
	return c.load(stderr)
}

// startArgs is start for a command that takes arguments, before or after
// its flags; it returns them.
func (c *common) startArgs(args []string, stderr io.Writer) (pos []string, cfg *config.Config, log *slog.Logger, code int, ok bool) {
	if pos, code, ok = parseInterspersed(c.fs, args); !ok {
		return nil, nil, nil, code, false
	}
	cfg, log, code, ok = c.load(stderr)
	return pos, cfg, log, code, ok
}

// parseInterspersed parses args whose flags may come before or after the
// positional arguments, and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for rest := args; ; {
		if code, ok := parseSome(fs, rest); !ok {
			return nil, code, false
		}
		if fs.NArg() == 0 {
			return pos, 0, true
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

// load makes the logger and loads the config, once the flags are parsed.
func (c *common) load(stderr io.Writer) (cfg *config.Config, log *slog.Logger, code int, ok bool) {
	if c.level != nil {
		format := "text"
		if c.format != nil {
			format = *c.format
		}
		var err error
		if log, err = newLogger(stderr, format, *c.level); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", c.fs.Name(), err)
			return nil, nil, exitUsage, false
		}
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.fs.Name(), err)
		return nil, nil, exitFailed, false
	}
	return cfg, log, exitOK, true
}

// newLogger logs to w as text or JSON at the chosen level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
