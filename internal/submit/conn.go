package submit

import (
	"context"
	"log/slog"
	"time"
)

// Conn is an SMTP session kept open for several transactions on one path, so
// that a round of many probes does not pay connect, TLS and AUTH for each.
type Conn struct {
	s      *session
	setup  Result // connect to AUTH: its steps, transcript and TLS facts
	used   int
	broken bool
}

// Dial opens a session on path, up to and including AUTH. On failure it returns
// nil and the Result of the failure, as Send would report it.
func Dial(ctx context.Context, path Path, log *slog.Logger) (*Conn, Result) {
	s := newSession(ctx, path, log)
	start := time.Now()
	ok := s.open()
	s.res.Duration = time.Since(start)
	s.res.Transcript = s.tr.String()
	if !ok {
		s.close()
		return nil, *s.res
	}
	return &Conn{s: s, setup: *s.res}, Result{}
}

// Transactions returns how many messages were sent on the connection.
func (c *Conn) Transactions() int { return c.used }

// Usable reports whether another transaction may be tried: false after a
// network, TLS or protocol failure.
func (c *Conn) Usable() bool { return !c.broken }

// Send runs one transaction (MAIL, RCPT, DATA). The first on a connection
// carries the setup's steps, duration and transcript; later ones are marked
// Reused and hold only their own. After a 4xx or 5xx reply the session is
// reset (RSET) for the next transaction.
func (c *Conn) Send(ctx context.Context, rcpt string, msg []byte) Result {
	s := c.s
	s.ctx = ctx
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	mark := s.tr.lineCount()
	s.res = &Result{Start: time.Now().UTC(), TLS: c.setup.TLS, Reused: c.used > 0}
	if c.used == 0 {
		s.res.Start, s.res.Steps, mark = c.setup.Start, append([]Step(nil), c.setup.Steps...), 0
	}
	start := time.Now()
	if !s.transaction(rcpt, msg) {
		c.broken = s.res.Outcome == Failed || s.c.Reset() != nil
	}
	s.res.Duration = time.Since(start)
	if c.used == 0 {
		s.res.Duration += c.setup.Duration
	}
	s.res.Transcript = s.tr.linesFrom(mark)
	c.used++
	return *s.res
}

// Close says QUIT, briefly, and closes the connection.
func (c *Conn) Close() {
	s := c.s
	if !c.broken {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.ctx = ctx
		_ = s.call(func() error { return s.c.Quit() })
		cancel()
	}
	s.close()
}
