package submit

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// reply is one complete server reply.
type reply struct {
	at           time.Time
	code         int
	enhancedCode string
	text         string
}

// transcript records the conversation that go-smtp's DebugWriter sees (plain text,
// also after STARTTLS) and turns the server's side into replies. go-smtp reports
// only errors; successful replies, their text and their arrival times come from
// here. The direction of each write is told by the last operation on the socket
// underneath: go-smtp never pipelines, so a read is always the server speaking.
type transcript struct {
	mu      sync.Mutex
	reading bool // set by dirConn: the last socket operation was a read
	lines   []string
	partial []byte // server bytes not yet ending in a line
	replies []reply
	pending []string // lines of a multi-line reply in progress
	inData  bool     // message content is being written: keep it out of the transcript
	skip    int      // server bytes to leave out: a banner replayed for go-smtp
	maskArg bool     // the next client line is an AUTH continuation: mask it
	now     func() time.Time
}

func newTranscript() *transcript { return &transcript{now: time.Now} }

// Write implements io.Writer for go-smtp's DebugWriter.
func (t *transcript) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reading {
		t.server(b)
	} else {
		t.client(b)
	}
	return len(b), nil
}

func (t *transcript) client(b []byte) {
	if t.inData {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(string(b), "\r\n"), "\r\n") {
		upper := strings.ToUpper(line)
		switch {
		case t.maskArg:
			line = "C: ******"
			t.maskArg = false
		case strings.HasPrefix(upper, "AUTH "):
			f := strings.Fields(line)
			line = "C: " + strings.Join(f[:min(2, len(f))], " ")
			if len(f) > 2 {
				line += " ******"
			}
		default:
			line = "C: " + line
		}
		t.lines = append(t.lines, line)
	}
}

func (t *transcript) server(b []byte) {
	// go-smtp flushes the message and its final dot in Close; the first server
	// bytes after that are the final reply, so the content has ended.
	t.inData = false
	if n := min(t.skip, len(b)); n > 0 {
		t.skip -= n
		b = b[n:]
	}
	t.partial = append(t.partial, b...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			return
		}
		line := strings.TrimRight(string(t.partial[:i]), "\r")
		t.partial = t.partial[i+1:]
		t.lines = append(t.lines, "S: "+line)
		t.pending = append(t.pending, line)
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		t.replies = append(t.replies, parseReply(t.pending, t.now()))
		t.pending = nil
		if strings.HasPrefix(line, "334") {
			t.maskArg = true // RFC 4954: the client's answer to a challenge is a credential
		}
	}
}

// parseReply joins a reply's lines (RFC 5321 section 4.2) and splits off the
// enhanced status code of RFC 3463 when the first line has one.
func parseReply(lines []string, at time.Time) reply {
	r := reply{at: at}
	var texts []string
	for _, l := range lines {
		if len(l) >= 3 {
			if c, err := strconv.Atoi(l[:3]); err == nil {
				r.code = c
			}
		}
		if len(l) > 4 {
			texts = append(texts, l[4:])
		} else {
			texts = append(texts, "")
		}
	}
	if len(texts) > 0 {
		if code, rest, ok := splitEnhanced(texts[0]); ok {
			r.enhancedCode = code
			texts[0] = rest
		}
	}
	r.text = strings.Join(texts, "\n")
	return r
}

// splitEnhanced splits "2.1.0 Ok" into "2.1.0" and "Ok".
func splitEnhanced(s string) (code, rest string, ok bool) {
	f, rest, _ := strings.Cut(s, " ")
	parts := strings.Split(f, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return "", s, false
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil || len(p) == 0 || len(p) > 3 {
			return "", s, false
		}
	}
	return f, rest, true
}

// mark returns how many replies have been seen, to find the replies of a stage.
func (t *transcript) mark() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.replies)
}

// since returns the replies that arrived after mark m.
func (t *transcript) since(m int) []reply {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]reply(nil), t.replies[m:]...)
}

// lastSince returns the last reply after mark m, or nil when none came.
func (t *transcript) lastSince(m int) *reply {
	rs := t.since(m)
	if len(rs) == 0 {
		return nil
	}
	return &rs[len(rs)-1]
}

func (t *transcript) skipServer(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.skip += n
}

func (t *transcript) setReading() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reading = true
}

// startData keeps the message content, written next, out of the transcript.
func (t *transcript) startData(size int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inData = true
	t.lines = append(t.lines, fmt.Sprintf("C: (message content, %d bytes, and the final dot)", size))
}

// lineCount marks the start of a transaction's part of the transcript.
func (t *transcript) lineCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lines)
}

// linesFrom returns the transcript from mark on.
func (t *transcript) linesFrom(mark int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines[mark:], "\n")
}

func (t *transcript) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// dirConn tells the transcript which way bytes last flowed on the socket.
type dirConn struct {
	net.Conn
	t *transcript
}

func (c dirConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.t.setReading()
	return n, err
}

func (c dirConn) Write(b []byte) (int, error) {
	c.t.mu.Lock()
	c.t.reading = false
	c.t.mu.Unlock()
	return c.Conn.Write(b)
}
