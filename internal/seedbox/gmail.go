package seedbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"

	"github.com/mailflow/mailflow/internal/oauth/bearer"
)

// Gmail files inbox mail under tabs (categories): Primary, Promotions, Social,
// Updates, Forums. Over IMAP they are reached through Gmail's X-GM-EXT-1
// extension: X-GM-LABELS on FETCH, and X-GM-RAW on SEARCH with Gmail's own
// query language ("category:promotions"). go-imap speaks neither, so this file
// holds a deliberately small IMAP client of its own, used for one thing:
// asking which tab holds the probes just found in the inbox.

// capGmail is the capability that announces Gmail's extensions.
const capGmail = imap.Cap("X-GM-EXT-1")

// TabPrimary is the tab of inbox mail Gmail did not put under another category.
const TabPrimary = "primary"

// gmailTabs are the categories other than Primary, as X-GM-RAW names them.
var gmailTabs = []string{"promotions", "social", "updates", "forums"}

// Bounds on what the raw client reads from a server.
const (
	maxRawLine    = 64 << 10
	maxRawLines   = 10000
	maxRawLiteral = 64 << 10
)

// rawIMAP is a minimal IMAP client: tagged commands, untagged lines with any
// literals inlined. It never parses more than it needs.
type rawIMAP struct {
	conn    net.Conn
	br      *bufio.Reader
	tag     int
	timeout time.Duration
}

// dialRaw connects over implicit TLS or STARTTLS as acct says and logs in.
// Connecting, the greeting and each command are bounded by the account's
// timeout.
func dialRaw(ctx context.Context, acct Account) (*rawIMAP, error) {
	tlsConfig := acct.tlsConfig()
	addr := net.JoinHostPort(acct.Host, strconv.Itoa(acct.Port))
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, acct.timeout())
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(acct.timeout())) // the greeting; cmd sets its own
	r := &rawIMAP{conn: conn, br: bufio.NewReader(conn), timeout: acct.timeout()}
	if acct.Security == SecurityTLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, err
		}
		r.conn, r.br = tc, bufio.NewReader(tc)
	}
	if _, err := r.line(); err != nil { // the greeting
		r.conn.Close()
		return nil, err
	}
	if acct.Security == SecuritySTARTTLS {
		if _, err := r.cmd("STARTTLS"); err != nil {
			r.conn.Close()
			return nil, err
		}
		tc := tls.Client(r.conn, tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			r.conn.Close()
			return nil, err
		}
		r.conn, r.br = tc, bufio.NewReader(tc)
	}
	if acct.Tokens != nil {
		if err := r.loginOAuth(ctx, acct); err != nil {
			r.conn.Close()
			return nil, err
		}
		return r, nil
	}
	if _, err := r.cmd("LOGIN " + quote(acct.Username) + " " + quote(acct.Password)); err != nil {
		r.conn.Close()
		return nil, errors.New("login refused") // never the server's words: they may echo the password
	}
	return r, nil
}

// loginOAuth authenticates with a bearer token as Session.loginOAuth does:
// the mechanism from the server's capabilities, one refresh after a refusal.
func (r *rawIMAP) loginOAuth(ctx context.Context, acct Account) error {
	caps, err := r.cmd("CAPABILITY")
	if err != nil {
		return err
	}
	offered := map[string]bool{}
	for _, l := range caps {
		if rest, ok := strings.CutPrefix(strings.ToUpper(l), "CAPABILITY "); ok {
			for _, c := range strings.Fields(rest) {
				if m, ok := strings.CutPrefix(c, "AUTH="); ok {
					offered[m] = true
				}
			}
		}
	}
	mech := bearer.Choose(func(m string) bool { return offered[m] })
	if mech == "" {
		return fmt.Errorf("seed %s: the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2", acct.Name)
	}
	err = bearer.Authenticate(ctx, acct.Tokens, mech, acct.Username, acct.Host, acct.Port, r.authenticate,
		func(err error) bool { return errors.Is(err, errRawNo) })
	return oauthLoginError(acct, mech, err)
}

// errRawNo is wrapped by the error of an AUTHENTICATE the server answered NO.
var errRawNo = errors.New("refused")

// authenticate runs AUTHENTICATE with c (RFC 3501 section 6.2.2): the
// initial response after the server's first continuation, then c's answer to
// each challenge. The server's words are never returned: they may echo what
// was sent.
func (r *rawIMAP) authenticate(c sasl.Client) error {
	mech, ir, err := c.Start()
	if err != nil {
		return err
	}
	r.tag++
	tag := "m" + strconv.Itoa(r.tag)
	r.conn.SetDeadline(time.Now().Add(r.timeout))
	if _, err := fmt.Fprintf(r.conn, "%s AUTHENTICATE %s\r\n", tag, mech); err != nil {
		return err
	}
	first := true
	for range maxRawLines {
		line, err := r.line()
		if err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(line, "+"); ok {
			resp := ir
			if !first || ir == nil {
				challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
				if err != nil {
					return fmt.Errorf("AUTHENTICATE: a challenge that is not base64")
				}
				if resp, err = c.Next(challenge); err != nil {
					return err
				}
			}
			first = false
			if _, err := fmt.Fprintf(r.conn, "%s\r\n", base64.StdEncoding.EncodeToString(resp)); err != nil {
				return err
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			status, _, _ := strings.Cut(rest, " ")
			switch strings.ToUpper(status) {
			case "OK":
				return nil
			case "NO":
				return fmt.Errorf("AUTHENTICATE %s: %w", mech, errRawNo)
			}
			return fmt.Errorf("AUTHENTICATE %s: %s", mech, strings.ToUpper(status))
		}
	}
	return fmt.Errorf("AUTHENTICATE: more than %d response lines", maxRawLines)
}

// quote makes an IMAP quoted string (RFC 3501 section 4.3).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// cmd sends one command and returns its untagged response lines. A NO or BAD
// is an error naming the command's first word.
func (r *rawIMAP) cmd(command string) ([]string, error) {
	r.tag++
	tag := "m" + strconv.Itoa(r.tag)
	r.conn.SetDeadline(time.Now().Add(r.timeout))
	if _, err := fmt.Fprintf(r.conn, "%s %s\r\n", tag, command); err != nil {
		return nil, err
	}
	word, _, _ := strings.Cut(command, " ")
	var untagged []string
	for range maxRawLines {
		line, err := r.line()
		if err != nil {
			return nil, err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if status, _, _ := strings.Cut(rest, " "); !strings.EqualFold(status, "OK") {
				if len(rest) > 120 {
					rest = rest[:120] + "..."
				}
				return nil, fmt.Errorf("%s: %s", word, rest)
			}
			return untagged, nil
		}
		if strings.HasPrefix(line, "* ") {
			untagged = append(untagged, line[2:])
		}
	}
	return nil, fmt.Errorf("%s: more than %d response lines", word, maxRawLines)
}

// line reads one response line with its literals ({n} then n bytes) inlined,
// never holding more than maxRawLine of it.
func (r *rawIMAP) line() (string, error) {
	var b strings.Builder
	for b.Len() <= maxRawLine {
		var part string
		for {
			chunk, err := r.br.ReadSlice('\n')
			part += string(chunk)
			if err == nil {
				break
			}
			if err != bufio.ErrBufferFull {
				return "", err
			}
			if b.Len()+len(part) > maxRawLine {
				return "", fmt.Errorf("a response line over %d bytes", maxRawLine)
			}
		}
		part = strings.TrimRight(part, "\r\n")
		b.WriteString(part)
		n, ok := literalSize(part)
		if !ok {
			return b.String(), nil
		}
		if n > maxRawLiteral {
			return "", fmt.Errorf("a literal of %d bytes", n)
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(r.br, lit); err != nil {
			return "", err
		}
		b.WriteString(quote(string(lit)))
	}
	return "", fmt.Errorf("a response line over %d bytes", maxRawLine)
}

// literalSize reads a trailing "{n}" and strips nothing: the caller already
// wrote the part, so the literal follows its marker in the line.
func literalSize(part string) (int, bool) {
	if !strings.HasSuffix(part, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(part, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(part[open+1:len(part)-1], "+"))
	return n, err == nil && n >= 0
}

func (r *rawIMAP) close() {
	r.timeout = 2 * time.Second // cmd sets the deadline from it
	r.cmd("LOGOUT")
	r.conn.Close()
}

// tabs returns the Gmail tab of each inbox message uid: from X-GM-LABELS where
// they name a category, else by X-GM-RAW searches, and Primary for the rest.
func (r *rawIMAP) tabs(inbox string, uids []imap.UID) (map[imap.UID]string, error) {
	if _, err := r.cmd("EXAMINE " + quote(inbox)); err != nil {
		return nil, err
	}
	set := imap.UIDSetNum(uids...).String()
	out := map[imap.UID]string{}
	lines, err := r.cmd("UID FETCH " + set + " (UID X-GM-LABELS)")
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		uid, tab := labelTab(l)
		if uid != 0 && tab != "" {
			out[uid] = tab
		}
	}
	for _, tab := range gmailTabs {
		if len(out) == len(uids) {
			break
		}
		lines, err := r.cmd("UID SEARCH UID " + set + " X-GM-RAW " + quote("category:"+tab))
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if rest, ok := strings.CutPrefix(strings.ToUpper(l), "SEARCH"); ok {
				for _, f := range strings.Fields(rest) {
					if n, err := strconv.ParseUint(f, 10, 32); err == nil {
						if _, seen := out[imap.UID(n)]; !seen {
							out[imap.UID(n)] = tab
						}
					}
				}
			}
		}
	}
	for _, u := range uids {
		if out[u] == "" {
			out[u] = TabPrimary
		}
	}
	return out, nil
}

// labelTab reads a FETCH line, "12 FETCH (UID 34 X-GM-LABELS (\Important
// "CATEGORY_PROMOTIONS"))", and returns its UID and the category a label
// names, if any: "promotions" for \Promotions, CATEGORY_PROMOTIONS or
// category:promotions alike.
func labelTab(line string) (imap.UID, string) {
	up := strings.ToUpper(line)
	var uid imap.UID
	if i := strings.Index(up, "UID "); i >= 0 {
		f := strings.Fields(up[i+4:])
		if len(f) > 0 {
			if n, err := strconv.ParseUint(strings.TrimRight(f[0], ")"), 10, 32); err == nil {
				uid = imap.UID(n)
			}
		}
	}
	i := strings.Index(up, "X-GM-LABELS (")
	if i < 0 {
		return uid, ""
	}
	labels := up[i+len("X-GM-LABELS ("):]
	if end := strings.IndexByte(labels, ')'); end >= 0 {
		labels = labels[:end]
	}
	for _, l := range strings.Fields(labels) {
		l = strings.Trim(l, `"\`)
		l = strings.TrimPrefix(strings.TrimPrefix(l, "CATEGORY_"), "CATEGORY:")
		for _, tab := range append([]string{TabPrimary, "personal"}, gmailTabs...) {
			if strings.EqualFold(l, tab) {
				if tab == "personal" { // the API's name for Primary
					tab = TabPrimary
				}
				return uid, tab
			}
		}
	}
	return uid, ""
}
