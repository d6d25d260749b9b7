package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
)

// command runs a program (no shell) with the Event as JSON on its standard
// input and as MAILFLOW_ALERT_* variables added to mailflow's environment.
type command struct {
	name    string
	argv    []string
	timeout time.Duration
}

func newCommand(n *config.Notifier) (Notifier, error) {
	if len(n.Command) == 0 || n.Command[0] == "" {
		return nil, fmt.Errorf("notifier %s: command is empty", n.Name)
	}
	return &command{name: n.Name, argv: n.Command, timeout: n.Timeout}, nil
}

// Name returns the notifier's name.
func (c *command) Name() string { return c.name }

// stderrKept is how much of a failed command's standard error its error quotes.
const stderrKept = 500

// waitDelay is how long Notify waits, after the program ended or was killed,
// for whatever it left holding its standard error to close it.
const waitDelay = 2 * time.Second

// Notify runs the command and waits for it. An exit status other than 0 is an
// error carrying the status and the end of its standard error. At the
// timeout, or when ctx ends, the command's whole process group is killed, so
// that a shell script's children die with it.
func (c *command) Notify(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notifier %s: encode event: %w", c.name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("notifier %s: command not run: %w", c.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(os.Environ(), environ(e)...)
	stderr := &tail{max: stderrKept}
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	killGroup(cmd)
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it succeeded, and left a child holding its stderr
	}
	if err == nil {
		return nil
	}
	var msg string
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		msg, err = fmt.Sprintf("killed after the %s timeout", c.timeout), ctx.Err()
	case ctx.Err() != nil:
		msg, err = "killed: "+ctx.Err().Error(), ctx.Err()
	case errors.As(err, &ee):
		msg = ee.ProcessState.String() // "exit status 3", "signal: killed"
	default:
		msg = err.Error() // could not start: not found, not executable
	}
	if s := stderr.String(); s != "" {
		msg += ": " + s
	}
	return &textError{msg: fmt.Sprintf("notifier %s: command %s: %s", c.name, c.argv[0], msg), err: err}
}

// environ returns the MAILFLOW_ALERT_* variables a command notifier adds to
// its environment, as NAME=value. Times are RFC 3339 in UTC; ENDS_AT is empty
// until the alert resolves.
func environ(e Event) []string {
	ends := ""
	if e.EndsAt != nil {
		ends = e.EndsAt.UTC().Format(time.RFC3339)
	}
	vars := []struct{ k, v string }{
		{"ID", e.ID}, {"STATUS", e.Status}, {"ALERT", e.Alert}, {"CHECK", e.Check}, {"RULE", e.Rule},
		{"KIND", e.Kind}, {"SEVERITY", e.Severity}, {"GROUP", e.Group}, {"SUMMARY", e.Summary},
		{"VALUE", strconv.FormatFloat(e.Value, 'f', -1, 64)},
		{"THRESHOLD", strconv.FormatFloat(e.Threshold, 'f', -1, 64)},
		{"STARTS_AT", e.StartsAt.UTC().Format(time.RFC3339)}, {"ENDS_AT", ends},
		{"REPEAT", strconv.Itoa(e.Repeat)},
	}
	env := make([]string, len(vars))
	for i, v := range vars {
		// A NUL cannot be passed in the environment; no field should hold one.
		env[i] = "MAILFLOW_ALERT_" + v.k + "=" + strings.ReplaceAll(v.v, "\x00", "")
	}
	return env
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

// String is the kept bytes on one line, with "..." in front when earlier
// ones were dropped.
func (t *tail) String() string {
	s := printable(t.buf)
	if s != "" && t.cut {
		s = "..." + s
	}
	return s
}
