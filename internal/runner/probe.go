package runner

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/config"
	"github.com/mailflow/mailflow/internal/message"
	"github.com/mailflow/mailflow/internal/report"
	"github.com/mailflow/mailflow/internal/seedbox"
	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/submit"
	"github.com/mailflow/mailflow/internal/verdict"
)

var newToken = message.NewToken

// sender submits the probes of one path one after another, over one SMTP
// connection for as long as it stays usable.
type sender struct {
	r     *Runner
	path  submit.Path
	dkim  *message.DKIMKey // nil when the path does not sign
	err   error            // the path could not be made ready (its ca_file, its DKIM key)
	conn  *submit.Conn
	check *config.Check
	log   *slog.Logger
}

// MaxTransactions bounds the messages sent over one SMTP connection; servers
// limit it too (Postfix answers 421 after smtpd_client_message_rate_limit).
const MaxTransactions = 100

func (r *Runner) newSender(check *config.Check, p *config.Path, log *slog.Logger) *sender {
	sp, err := r.SubmitPath(p)
	s := &sender{r: r, path: sp, err: err, check: check, log: log.With("path", p.Name)}
	if d := p.DKIM; d != nil && err == nil {
		// Parsed once per sender, not once per probe.
		signer, err := message.ParseDKIMKey([]byte(d.Key.Reveal()))
		if err != nil {
			s.err = fmt.Errorf("path %s: dkim key %s: %w", p.Name, d.KeyFile, err)
		}
		s.dkim = &message.DKIMKey{Domain: d.Domain, Selector: d.Selector, Signer: signer}
	}
	return s
}

// send composes and submits one probe and stores what the SMTP exchange taught.
func (s *sender) send(ctx context.Context, j *job, sw *seedWatch) error {
	r := s.r
	log := s.log.With("seed", j.seed.Name, "token", j.probe.Token)
	if sw.err != nil {
		return r.Store.Finish(ctx, j.probe.ID, store.StateError, string(verdict.Error),
			"not sent: the seed could not be watched: "+sw.err.Error(), r.now())
	}
	err := s.err
	var msg []byte
	if err == nil {
		msg, err = compose(s.check, j, s.dkim, r.now())
	}
	if err != nil {
		return r.Store.Finish(ctx, j.probe.ID, store.StateError, string(verdict.Error), "not sent: "+err.Error(), r.now())
	}
	sw.w.Expect(j.sink, j.probe.Token)
	j.watcher = sw.w
	j.submitStart = time.Now()
	if s.conn != nil && (!s.conn.Usable() || s.conn.Transactions() >= MaxTransactions) {
		s.conn.Close()
		s.conn = nil
	}
	var res submit.Result
	if s.conn == nil {
		s.conn, res = submit.Dial(ctx, s.path, log)
	}
	if s.conn != nil {
		res = s.conn.Send(ctx, j.seed.Address, msg)
	}
	return r.recordSubmission(ctx, j, res, log)
}

// close ends the sender's connection.
func (s *sender) close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

func compose(check *config.Check, j *job, dkim *message.DKIMKey, now time.Time) ([]byte, error) {
	from := j.path.From
	if from == "" {
		from = j.path.MailFrom
	}
	msg, err := message.Build(message.Probe{
		Token: j.probe.Token, From: from, To: j.seed.Address, Date: now, Subject: check.Subject,
		Check: check.Name, Path: j.path.Name, Seed: j.seed.Name, Body: check.Body,
	})
	if err != nil || dkim == nil {
		return msg, err
	}
	return message.Sign(msg, *dkim)
}

// SubmitPath is p as submit takes it: its CA pool read once and again only
// when the file changes, and its OAuth2 token source. Alert email sends over
// paths with it too.
func (r *Runner) SubmitPath(p *config.Path) (submit.Path, error) {
	pool, err := r.cas.get(p.CAFile)
	if err != nil {
		return submit.Path{}, fmt.Errorf("path %s: ca_file: %w", p.Name, err)
	}
	return submit.Path{
		Name: p.Name, Host: p.Host, Port: p.Port, Security: string(p.Security),
		NoSTARTTLS: p.StartTLS == "never", TLSServerName: p.TLSServerName, RootCAs: pool,
		Username: p.Username, Password: p.Password.Reveal(), Tokens: r.Tokens.Path(p.Name), AuthMechanism: p.AuthMechanism,
		AllowPlaintextAuth: p.AllowPlaintextAuth, HELO: p.HELO, MailFrom: p.MailFrom, Timeout: p.Timeout,
	}, nil
}

// account is how the seed called name is reached, within the bound of IMAP
// connections per host.
func (r *Runner) account(cfg *config.Config, name string) (seedbox.Account, error) {
	s := cfg.Seeds[name]
	pool, err := r.cas.get(s.CAFile)
	if err != nil {
		return seedbox.Account{}, fmt.Errorf("seed %s: ca_file: %w", s.Name, err)
	}
	var junkNames []string
	imapID := false
	if s.Provider != nil {
		junkNames, imapID = s.Provider.JunkFolders, s.Provider.IMAPID
	}
	return seedbox.Account{
		Name: s.Name, Host: s.IMAPHost, Port: s.IMAPPort, Security: string(s.IMAPSecurity),
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: s.TLSServerName}, IMAPID: imapID,
		Username: s.Username, Password: s.Password.Reveal(), Tokens: r.Tokens.Seed(name), AllowPlaintextAuth: s.AllowPlaintextAuth,
		Inbox: s.Inbox, Junk: s.Junk, JunkNames: junkNames, Extra: s.Folders, Cleanup: s.Cleanup, NoIDLE: s.NoIDLE, FastPoll: s.FastPoll,
		PollInterval: pollInterval(cfg, name), Limiter: r.pool(cfg).Limiter(),
	}, nil
}

// outcomeState maps a submission outcome to the probe's state and placement.
func outcomeState(o submit.Outcome) (string, verdict.Placement) {
	switch o {
	case submit.Accepted:
		return store.StateSent, ""
	case submit.Deferred:
		return store.StateDeferred, verdict.Deferred
	case submit.Rejected:
		return store.StateRejected, verdict.Rejected
	}
	return store.StateError, verdict.Error
}

func (r *Runner) recordSubmission(ctx context.Context, j *job, res submit.Result, log *slog.Logger) error {
	state, placement := outcomeState(res.Outcome)
	j.probe.State = state
	if state != store.StateSent {
		j.watcher.Forget(j.probe.Token)
		j.watcher = nil
		log.Warn("probe not accepted", "stage", res.Stage, "code", res.Code, "err", res.Reason)
	} else {
		log.Debug("probe accepted", "queue_id", res.QueueID, "latency", res.Duration)
	}
	s := store.Submission{
		StartedAt: res.Start, Duration: res.Duration, AcceptedAt: res.AcceptedAt, Outcome: string(res.Outcome),
		Stage: string(res.Stage), Code: res.Code, EnhancedCode: res.EnhancedCode, Text: res.Text,
		Reason: res.Reason, QueueID: res.QueueID, Transcript: res.Transcript, Reused: res.Reused,
	}
	if t := res.TLS; t != nil {
		s.TLSVersion, s.TLSCipher, s.TLSServer = t.Version, t.Cipher, t.ServerName
		s.CertSubject, s.CertIssuer, s.CertExpiry = t.CertSubject, t.CertIssuer, t.CertExpiry
	}
	stages := make([]store.Stage, len(res.Steps))
	for i, st := range res.Steps {
		stages[i] = store.Stage{Stage: string(st.Stage), StartedAt: st.Start, Duration: st.Duration,
			Code: st.Code, EnhancedCode: st.EnhancedCode, Text: st.Text, Error: st.Err}
	}
	return r.Store.RecordSubmission(ctx, j.probe.ID, state, string(placement), s, stages, r.now())
}

// unwatchedGap is how much later than its INTERNALDATE a message must have
// been seen for the date to time it: INTERNALDATE has whole seconds, so a
// shorter gap is better measured by the moment it was seen.
const unwatchedGap = 2 * time.Second

// recordFound judges a found probe and stores the verdict.
func (r *Runner) recordFound(ctx context.Context, j *job, f seedbox.Found, log *slog.Logger) error {
	// Both instants carry the monotonic clock: immune to wall-clock steps.
	latency, basis := f.SeenAt.Sub(j.submitStart), store.LatencySeen
	if byDate := f.InternalDate.Sub(j.submitStart); f.Unwatched && byDate > 0 && f.SeenAt.Sub(f.InternalDate) > unwatchedGap {
		// It arrived while nobody watched (a reconnect, a turn, a restart)
		// and was seen well after: the server's arrival time, coarse as it
		// is, beats counting the gap.
		latency, basis = byDate, store.LatencyInternalDate
	}
	trust := verdict.Trust{IDs: j.seed.TrustedAuthservIDs()}
	if p := j.seed.Provider; p != nil {
		trust.TopmostWithoutID, trust.SpamFilters = p.TrustTopmostWithoutID, p.SpamFilters
	}
	analysis, err := verdict.Analyze(f.Header, trust, j.submitStart)
	if err != nil || len(analysis.Errors) > 0 {
		log.Warn("found probe has header fields mailflow cannot read", "seed", f.Seed, "err", err, "problems", analysis.Errors)
	}
	analysisJSON, err := json.Marshal(report.Analysis(analysis))
	if err != nil {
		return err
	}
	auth := analysis.Auth
	placement := verdict.PlacementOf(verdict.Role(f.Role), f.Folder)
	if f.Tab != "" && f.Tab != seedbox.TabPrimary {
		placement = verdict.Tab(f.Tab) // Gmail's Primary tab is the inbox itself
	}
	var rows []store.AuthRow
	for i, ar := range auth.Headers {
		for _, res := range ar.Results {
			var props []string
			for _, p := range res.Props {
				props = append(props, p.Key()+"="+p.Value)
			}
			rows = append(rows, store.AuthRow{HeaderIndex: i, AuthservID: ar.AuthservID, Trusted: ar.Trusted,
				Method: res.Method, Result: res.Value, Reason: res.Reason, Props: strings.Join(props, " ")})
		}
	}
	log.Info("probe found", "path", j.probe.Path, "seed", j.probe.Seed, "token", f.Token, "folder", f.Folder,
		"latency", latency.Round(time.Microsecond))
	err = r.Store.RecordFound(ctx, j.probe.ID, string(placement), store.Sighting{
		FoundAt: f.SeenAt, Folder: f.Folder, FolderRole: f.Role, UID: f.UID, InternalDate: f.InternalDate,
		Latency: latency, LatencyBasis: basis, Flags: f.Flags, Headers: string(f.Header), Analysis: string(analysisJSON),
	}, store.Auth{AuthservID: auth.AuthservID, SPF: auth.SPF, DKIM: auth.DKIM, DMARC: auth.DMARC}, rows)
	if err == nil {
		f.Stored()
	}
	return err
}
