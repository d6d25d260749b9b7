package submit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Mail submits msg to every rcpt in one transaction over path, on a
// connection of its own: mail that is not a probe, such as an alert, sent the
// way probes are (TLS, AUTH, timeouts). Every outcome is a Result, never an
// error; Result.Err says whether the message went.
func Mail(ctx context.Context, path Path, rcpts []string, msg []byte, log *slog.Logger) Result {
	if len(rcpts) == 0 {
		return Result{Outcome: Failed, Stage: StageRcpt, Reason: "no recipients", Start: time.Now().UTC()}
	}
	s := newSession(ctx, path, log)
	start := time.Now()
	if s.open() {
		stop := context.AfterFunc(ctx, func() { s.conn.Close() }) // as in Conn.Send
		ok := s.step(StageMail, func() error { return s.c.Mail(s.path.MailFrom, nil) })
		for _, rcpt := range rcpts {
			ok = ok && s.step(StageRcpt, func() error { return s.c.Rcpt(rcpt, nil) })
		}
		if ok && s.data(msg) {
			s.res.Outcome = Accepted
			// A failed QUIT does not undo an accepted message: keep its step
			// and the acceptance.
			accepted := *s.res
			s.step(StageQuit, func() error { return s.c.Quit() })
			accepted.Steps = s.res.Steps
			*s.res = accepted
		}
		stop()
	}
	s.res.Duration = time.Since(start)
	s.res.Transcript = s.tr.String()
	s.close()
	return *s.res
}

// Err returns nil when the message was accepted, and otherwise an error that
// says how it failed, at which stage, and the server's reply or the reason:
// "rejected at rcpt: 550 5.1.1 no such user". For callers to whom a refused
// message is a failure, unlike a probe's.
func (r Result) Err() error {
	if r.Outcome == Accepted {
		return nil
	}
	outcome := r.Outcome
	if outcome == "" {
		outcome = Failed
	}
	switch {
	case r.Code != 0 && r.EnhancedCode != "":
		return fmt.Errorf("%s at %s: %d %s %s", outcome, r.Stage, r.Code, r.EnhancedCode, r.Text)
	case r.Code != 0:
		return fmt.Errorf("%s at %s: %d %s", outcome, r.Stage, r.Code, r.Text)
	case r.Reason != "":
		return fmt.Errorf("%s at %s: %s", outcome, r.Stage, r.Reason)
	}
	return errors.New(string(outcome) + " at " + string(r.Stage))
}
