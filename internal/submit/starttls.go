package submit

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// go-smtp (v0.25) can issue STARTTLS only as the first thing a new client does,
// and then greets with the name "localhost". To send our own HELO name, to upgrade
// only when the server offers STARTTLS, and to time the banner, EHLO and STARTTLS
// apart, mailflow speaks the plain part of the session itself (RFC 5321 banner and
// EHLO, RFC 3207 STARTTLS) and hands the connection to go-smtp afterwards. go-smtp
// expects to read a banner first, so replayConn gives it the real one again; the
// transcript leaves that replay out.

// plainPhase reads the banner and sends EHLO, then STARTTLS when the path wants it
// and the server offers it. It returns the connection to hand to go-smtp.
func (s *session) plainPhase(raw net.Conn) (net.Conn, bool) {
	tp := textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{io.TeeReader(raw, s.tr), io.MultiWriter(raw, s.tr), raw})

	banner, ok := s.manual(StageBanner, tp, "", 220)
	if !ok {
		return nil, false
	}
	ehlo, ok := s.manual(StageEHLO, tp, "EHLO "+s.helo(), 250)
	if !ok {
		return nil, false
	}
	offered := false
	for _, l := range strings.Split(ehlo.text, "\n") {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	first, _, _ := strings.Cut(banner.text, "\n")
	if banner.enhancedCode != "" {
		first = banner.enhancedCode + " " + first
	}
	replay := "220 " + first + "\r\n"
	switch {
	case !offered && s.path.Security == SecuritySTARTTLS:
		return nil, s.fail(StageSTARTTLS, "server did not offer STARTTLS and the path requires it (security = \"starttls\")")
	case !offered:
		return s.replay(raw, replay), true
	}

	start := time.Now()
	m := s.tr.mark()
	err := s.deadline(func() error {
		id, err := tp.Cmd("STARTTLS")
		if err != nil {
			return err
		}
		tp.StartResponse(id)
		defer tp.EndResponse(id)
		if _, _, err := tp.ReadResponse(220); err != nil {
			return replyErr(err)
		}
		return nil
	})
	last := s.tr.lastSince(m)
	tc := tls.Client(raw, s.tlsConfig())
	if err == nil {
		ctx, cancel := context.WithTimeout(s.ctx, s.budget())
		err = s.ctxErr(tc.HandshakeContext(ctx))
		cancel()
	}
	if !s.record(StageSTARTTLS, start, time.Since(start), last, err) {
		return nil, false
	}
	s.tls = true
	s.res.TLS = tlsInfo(tc.ConnectionState())
	return s.replay(tc, replay), true
}

// manual sends cmd (none for the banner) and reads a reply, as one stage.
func (s *session) manual(stage Stage, tp *textproto.Conn, cmd string, want int) (reply, bool) {
	start := time.Now()
	m := s.tr.mark()
	err := s.deadline(func() error {
		if cmd != "" {
			if err := tp.PrintfLine("%s", cmd); err != nil {
				return err
			}
		}
		_, _, err := tp.ReadResponse(want)
		return replyErr(err)
	})
	var r reply
	last := s.tr.lastSince(m)
	if last != nil {
		r = *last
	}
	return r, s.record(stage, start, time.Since(start), last, err)
}

// deadline runs f with the connection's deadline set from the path's stage
// timeout and the context, whichever is sooner.
func (s *session) deadline(f func() error) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.conn.SetDeadline(time.Now().Add(s.budget()))
	defer s.conn.SetDeadline(time.Time{})
	return s.ctxErr(f())
}

// replyErr turns a textproto reply error into the error the stage reports,
// keeping the code for classification.
func replyErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &codeError{code: te.Code, msg: te.Msg}
	}
	return err
}

// codeError is an unexpected reply in the plain phase.
type codeError struct {
	code int
	msg  string
}

func (e *codeError) Error() string { return "server replied " + strconv.Itoa(e.code) + " " + e.msg }

// replay returns conn with the banner to read again, for go-smtp.
func (s *session) replay(conn net.Conn, banner string) net.Conn {
	s.tr.skipServer(len(banner))
	return &replayConn{Conn: conn, pending: []byte(banner), t: s.tr}
}

// replayConn yields pending bytes before reading from the connection.
type replayConn struct {
	net.Conn
	pending []byte
	t       *transcript
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pending) == 0 {
		return c.Conn.Read(b)
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	c.t.setReading()
	return n, nil
}
