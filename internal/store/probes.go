package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Probe states. A probe is written Pending before its message is sent; Sent once
// the server accepted it; then exactly one final state.
const (
	StatePending  = "pending"
	StateSent     = "sent"
	StateFound    = "found"
	StateMissing  = "missing"
	StateRejected = "rejected"
	StateDeferred = "deferred"
	StateError    = "error"
)

// Probe is one stored probe with its facts.
type Probe struct {
	ID          int64
	RoundID     int64
	Token       string
	Check       string
	Path        string
	Seed        string
	SeedAddress string
	Provider    string
	State       string
	Placement   string
	CreatedAt   time.Time
	DeadlineAt  time.Time
	FinishedAt  time.Time
	Error       string

	Submission Submission
	Sighting   Sighting
	Auth       Auth
	Stages     []Stage
	AuthRows   []AuthRow
}

// Submission is what the SMTP exchange taught.
type Submission struct {
	StartedAt    time.Time
	Duration     time.Duration
	AcceptedAt   time.Time
	Outcome      string
	Stage        string
	Code         int
	EnhancedCode string
	Text         string
	Reason       string
	QueueID      string
	TLSVersion   string
	TLSCipher    string
	TLSServer    string
	CertSubject  string
	CertIssuer   string
	CertExpiry   time.Time
	Transcript   string
	// Reused is set when the probe went over a connection opened for an
	// earlier one, so its stages start at MAIL.
	Reused bool
}

// Stage is one SMTP stage.
type Stage struct {
	Stage        string
	StartedAt    time.Time
	Duration     time.Duration
	Code         int
	EnhancedCode string
	Text         string
	Error        string
}

// Sighting is where and when the probe was found.
type Sighting struct {
	FoundAt      time.Time
	Folder       string
	FolderRole   string
	UID          uint32
	InternalDate time.Time
	// Latency is from the start of submission to FoundAt, or to InternalDate
	// when LatencyBasis says so.
	Latency time.Duration
	// LatencyBasis is LatencySeen or LatencyInternalDate.
	LatencyBasis string
	Flags        []string
	Headers      string
	// Analysis is the header analysis as JSON (report.AnalysisJSON), "" for
	// probes found before it was kept.
	Analysis string
}

// Latency bases.
const (
	// LatencySeen: to the moment the watcher saw the message.
	LatencySeen = "seen"
	// LatencyInternalDate: to the server's INTERNALDATE, for a message that
	// arrived while no connection watched its folder (after a reconnect, or
	// while waiting for a turn), so that the gap is not counted as delivery time.
	LatencyInternalDate = "internaldate"
)

// Auth is the trusted authentication summary.
type Auth struct {
	AuthservID       string
	SPF, DKIM, DMARC string
}

// AuthRow is one method result of one Authentication-Results header.
type AuthRow struct {
	HeaderIndex int // 0 is the topmost header
	AuthservID  string
	Trusted     bool
	Method      string
	Result      string
	Reason      string
	Props       string // "header.d=example.com smtp.mailfrom=a@example.com"
}

// StartRound records the start of a round and returns its id.
func (d *DB) StartRound(ctx context.Context, check string, at time.Time) (int64, error) {
	r, err := d.db.ExecContext(ctx, `INSERT INTO rounds (check_name, started_at) VALUES (?, ?)`, check, ts(at))
	if err != nil {
		return 0, fmt.Errorf("start round of %s: %w", check, err)
	}
	return r.LastInsertId()
}

// FinishRound records the end of a round.
func (d *DB) FinishRound(ctx context.Context, id int64, at time.Time) error {
	_, err := d.db.ExecContext(ctx, `UPDATE rounds SET finished_at = ? WHERE id = ?`, ts(at), id)
	if err != nil {
		return fmt.Errorf("finish round %d: %w", id, err)
	}
	return nil
}

// InsertProbe writes a new probe in state Pending and sets p.ID.
func (d *DB) InsertProbe(ctx context.Context, p *Probe) error {
	r, err := d.db.ExecContext(ctx, `INSERT INTO probes
		(round_id, token, check_name, path, seed, seed_address, provider, state, created_at, deadline_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.RoundID, p.Token, p.Check, p.Path, p.Seed, p.SeedAddress, p.Provider, StatePending, ts(p.CreatedAt), ts(p.DeadlineAt))
	if err != nil {
		return fmt.Errorf("insert probe %s: %w", p.Token, err)
	}
	p.ID, err = r.LastInsertId()
	p.State = StatePending
	return err
}

// RecordSubmission stores the SMTP facts and stages of a probe and moves it to
// state (StateSent when accepted, else a final state with its placement).
func (d *DB) RecordSubmission(ctx context.Context, id int64, state, placement string, s Submission, stages []Stage, at time.Time) error {
	var finished any
	if state != StateSent {
		finished = ts(at)
	}
	return d.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE probes SET state = ?, placement = ?, finished_at = ?,
			submit_started_at = ?, submit_ms = ?, accepted_at = ?, smtp_outcome = ?, smtp_stage = ?, smtp_code = ?,
			smtp_enhanced = ?, smtp_text = ?, smtp_reason = ?, queue_id = ?, tls_version = ?, tls_cipher = ?,
			tls_server_name = ?, tls_cert_subject = ?, tls_cert_issuer = ?, tls_cert_expiry = ?, transcript = ?,
			smtp_reused = ?
			WHERE id = ? AND state = ?`,
			state, placement, finished, ts(s.StartedAt), ms(s.Duration), ts(s.AcceptedAt), s.Outcome, s.Stage, s.Code,
			s.EnhancedCode, s.Text, s.Reason, s.QueueID, s.TLSVersion, s.TLSCipher, s.TLSServer, s.CertSubject,
			s.CertIssuer, ts(s.CertExpiry), s.Transcript, s.Reused, id, StatePending)
		if err := oneRow(r, err); err != nil {
			return err
		}
		for i, st := range stages {
			if _, err := tx.ExecContext(ctx, `INSERT INTO smtp_stages
				(probe_id, seq, stage, started_at, duration_ms, code, enhanced, text, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, i, st.Stage, ts(st.StartedAt), ms(st.Duration), st.Code, st.EnhancedCode, st.Text, st.Error); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordFound stores where and when a probe was found, its authentication
// results and its placement, and ends it in StateFound. The probe is normally
// Sent; a Pending one was found after a restart that lost its submission.
func (d *DB) RecordFound(ctx context.Context, id int64, placement string, s Sighting, a Auth, rows []AuthRow) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE probes SET state = ?, placement = ?, finished_at = ?, found_at = ?,
			folder = ?, folder_role = ?, imap_uid = ?, internal_date = ?, latency_ms = ?, latency_basis = ?,
			flags = ?, headers = ?, analysis = ?, authserv_id = ?, spf = ?, dkim = ?, dmarc = ?
			WHERE id = ? AND state IN (?, ?)`,
			StateFound, placement, ts(s.FoundAt), ts(s.FoundAt), s.Folder, s.FolderRole, s.UID, ts(s.InternalDate),
			ms(s.Latency), s.LatencyBasis, strings.Join(s.Flags, " "), s.Headers, s.Analysis,
			a.AuthservID, a.SPF, a.DKIM, a.DMARC, id, StatePending, StateSent)
		if err := oneRow(r, err); err != nil {
			return err
		}
		for i, row := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO auth_results
				(probe_id, header_index, seq, authserv_id, trusted, method, result, reason, props) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, row.HeaderIndex, i, row.AuthservID, row.Trusted, row.Method, row.Result, row.Reason, row.Props); err != nil {
				return err
			}
		}
		return nil
	})
}

// Finish ends a probe that is not yet final in state with placement and an
// explanation (missing after its deadline, or an error of mailflow's own).
func (d *DB) Finish(ctx context.Context, id int64, state, placement, reason string, at time.Time) error {
	r, err := d.db.ExecContext(ctx, `UPDATE probes SET state = ?, placement = ?, error = ?, finished_at = ?
		WHERE id = ? AND state IN (?, ?)`, state, placement, reason, ts(at), id, StatePending, StateSent)
	return oneRow(r, err)
}

// oneRow turns "no row changed" into ErrNotFound: the probe is missing or was
// already final, and a second final state would count it twice.
func oneRow(r sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("probe not in the expected state: %w", ErrNotFound)
	}
	return nil
}

const probeColumns = `id, round_id, token, check_name, path, seed, seed_address, provider, state, placement,
	created_at, deadline_at, finished_at, error, submit_started_at, submit_ms, accepted_at, smtp_outcome, smtp_stage,
	smtp_code, smtp_enhanced, smtp_text, smtp_reason, queue_id, tls_version, tls_cipher, tls_server_name,
	tls_cert_subject, tls_cert_issuer, tls_cert_expiry, transcript, found_at, folder, folder_role, imap_uid,
	internal_date, latency_ms, flags, headers, authserv_id, spf, dkim, dmarc, smtp_reused, latency_basis, analysis`

// RoundProbes returns the probes of a round with their stages and auth rows, in
// the order they were written.
func (d *DB) RoundProbes(ctx context.Context, roundID int64) ([]Probe, error) {
	out, err := d.queryProbes(ctx, `WHERE round_id = ? ORDER BY id`, roundID)
	if err != nil {
		return nil, fmt.Errorf("probes of round %d: %w", roundID, err)
	}
	if err := d.details(ctx, out); err != nil {
		return nil, fmt.Errorf("probes of round %d: %w", roundID, err)
	}
	return out, nil
}

// Probes returns every stored probe, oldest first, without stages and auth rows.
func (d *DB) Probes(ctx context.Context) ([]Probe, error) {
	return d.queryProbes(ctx, `ORDER BY id`)
}

// Unfinished returns every probe not yet in a final state (pending or sent),
// oldest first: what a restart must finish.
func (d *DB) Unfinished(ctx context.Context) ([]Probe, error) {
	return d.queryProbes(ctx, `WHERE state IN (?, ?) ORDER BY id`, StatePending, StateSent)
}

// probeListColumns are probeColumns with the two wide ones, the wire
// transcript and the header, read as "": alert rules and the API's lists
// never show them, and they are most of a row.
var probeListColumns = strings.NewReplacer("transcript,", "'' AS transcript,", "headers,", "'' AS headers,").Replace(probeColumns)

func (d *DB) queryProbes(ctx context.Context, where string, args ...any) ([]Probe, error) {
	return d.queryProbesCols(ctx, probeColumns, where, args...)
}

// queryProbeList is queryProbes without the transcript and the header.
func (d *DB) queryProbeList(ctx context.Context, where string, args ...any) ([]Probe, error) {
	return d.queryProbesCols(ctx, probeListColumns, where, args...)
}

func (d *DB) queryProbesCols(ctx context.Context, cols, where string, args ...any) ([]Probe, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+cols+` FROM probes `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query probes: %w", err)
	}
	defer rows.Close()
	var out []Probe
	for rows.Next() {
		p, err := scanProbe(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Final reports whether token belongs to a stored probe in a final state: a
// message carrying it may be deleted from a seed.
func (d *DB) Final(ctx context.Context, token string) (bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM probes WHERE token = ? AND state NOT IN (?, ?)`,
		token, StatePending, StateSent).Scan(&n)
	return n == 1, err
}

// Prune deletes final probes created before `before`, with their stages and
// authentication rows, the rounds left empty, the notifications delivered or
// abandoned and the alerts resolved before then. Unfinished probes are kept
// whatever their age. It returns how many probes it deleted.
func (d *DB) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM probes WHERE created_at < ? AND state NOT IN (?, ?)`, ts(before), StatePending, StateSent)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM rounds WHERE started_at < ? AND NOT EXISTS (SELECT 1 FROM probes WHERE round_id = rounds.id)`, ts(before))
		if err != nil {
			return err
		}
		// Delivered or abandoned notifications, and alerts resolved since.
		if _, err = tx.ExecContext(ctx, `DELETE FROM notifications WHERE done_at < ?`, ts(before)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM alerts WHERE status = 'resolved' AND since < ?`, ts(before))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune probes before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// ProbeCount returns how many probes are stored.
func (d *DB) ProbeCount(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM probes`).Scan(&n)
	return n, err
}

// ProbeByToken returns one probe.
func (d *DB) ProbeByToken(ctx context.Context, token string) (Probe, error) {
	p, err := scanProbe(d.db.QueryRowContext(ctx, `SELECT `+probeColumns+` FROM probes WHERE token = ?`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return Probe{}, fmt.Errorf("probe %s: %w", token, ErrNotFound)
	}
	if err != nil {
		return Probe{}, err
	}
	ps := []Probe{p}
	err = d.details(ctx, ps)
	return ps[0], err
}

type scanner interface{ Scan(...any) error }

func scanProbe(r scanner) (Probe, error) {
	var p Probe
	var created, deadline, finished, subStart, accepted, expiry, found, internal sql.NullString
	var subMS, latMS sql.NullFloat64
	var flags string
	s, g := &p.Submission, &p.Sighting
	err := r.Scan(&p.ID, &p.RoundID, &p.Token, &p.Check, &p.Path, &p.Seed, &p.SeedAddress, &p.Provider, &p.State,
		&p.Placement, &created, &deadline, &finished, &p.Error, &subStart, &subMS, &accepted, &s.Outcome, &s.Stage,
		&s.Code, &s.EnhancedCode, &s.Text, &s.Reason, &s.QueueID, &s.TLSVersion, &s.TLSCipher, &s.TLSServer,
		&s.CertSubject, &s.CertIssuer, &expiry, &s.Transcript, &found, &g.Folder, &g.FolderRole, &g.UID,
		&internal, &latMS, &flags, &g.Headers, &p.Auth.AuthservID, &p.Auth.SPF,
		&p.Auth.DKIM, &p.Auth.DMARC, &s.Reused, &g.LatencyBasis, &g.Analysis)
	if err != nil {
		return p, err
	}
	p.CreatedAt, p.DeadlineAt, p.FinishedAt = parseTS(created), parseTS(deadline), parseTS(finished)
	s.StartedAt, s.AcceptedAt, s.CertExpiry = parseTS(subStart), parseTS(accepted), parseTS(expiry)
	s.Duration = time.Duration(subMS.Float64 * float64(time.Millisecond))
	g.FoundAt, g.InternalDate = parseTS(found), parseTS(internal)
	g.Latency = time.Duration(latMS.Float64 * float64(time.Millisecond))
	if flags != "" {
		g.Flags = strings.Fields(flags)
	}
	return p, nil
}

// details loads the stages and authentication rows of ps in two queries,
// whatever their number.
func (d *DB) details(ctx context.Context, ps []Probe) error {
	if len(ps) == 0 {
		return nil
	}
	at := make(map[int64]*Probe, len(ps))
	ids := make([]int64, len(ps))
	for i := range ps {
		at[ps[i].ID], ids[i] = &ps[i], ps[i].ID
	}
	list, err := json.Marshal(ids) // one parameter, however many probes
	if err != nil {
		return err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT probe_id, stage, started_at, duration_ms, code, enhanced, text, error
		FROM smtp_stages WHERE probe_id IN (SELECT value FROM json_each(?)) ORDER BY probe_id, seq`, string(list))
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var st Stage
		var started sql.NullString
		var dur float64
		if err := rows.Scan(&id, &st.Stage, &started, &dur, &st.Code, &st.EnhancedCode, &st.Text, &st.Error); err != nil {
			rows.Close()
			return err
		}
		st.StartedAt, st.Duration = parseTS(started), time.Duration(dur*float64(time.Millisecond))
		at[id].Stages = append(at[id].Stages, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = d.db.QueryContext(ctx, `SELECT probe_id, header_index, authserv_id, trusted, method, result, reason, props
		FROM auth_results WHERE probe_id IN (SELECT value FROM json_each(?)) ORDER BY probe_id, header_index, seq`, string(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a AuthRow
		if err := rows.Scan(&id, &a.HeaderIndex, &a.AuthservID, &a.Trusted, &a.Method, &a.Result, &a.Reason, &a.Props); err != nil {
			return err
		}
		at[id].AuthRows = append(at[id].AuthRows, a)
	}
	return rows.Err()
}
