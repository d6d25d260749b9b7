// Package store keeps every fact mailflow learns in SQLite (modernc.org/sqlite, no
// cgo): rounds, probes, SMTP stages and authentication results. A probe row is
// written before its message is sent and updated as facts arrive. It does not
// decide anything; callers pass facts in.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a probe or round does not exist.
var ErrNotFound = errors.New("not found")

// DB is an open mailflow database.
type DB struct {
	db   *sql.DB
	path string
}

// Open opens (creating if needed) the database at path, turns on WAL and a busy
// timeout, and applies pending migrations.
func Open(path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a single connection
	// serialises writes in this process without SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	d := &DB{db: db, path: path}
	if err := d.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return d, nil
}

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok").
func (d *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var s string
	err := d.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&s)
	return s, err
}

// migrations are applied in order; PRAGMA user_version counts those applied.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE rounds (
		id          INTEGER PRIMARY KEY,
		check_name  TEXT NOT NULL,
		started_at  TEXT NOT NULL,
		finished_at TEXT
	);
	CREATE TABLE probes (
		id               INTEGER PRIMARY KEY,
		round_id         INTEGER NOT NULL REFERENCES rounds(id),
		token            TEXT NOT NULL UNIQUE,
		check_name       TEXT NOT NULL,
		path             TEXT NOT NULL,
		seed             TEXT NOT NULL,
		seed_address     TEXT NOT NULL,
		provider         TEXT NOT NULL DEFAULT '',
		state            TEXT NOT NULL,
		placement        TEXT NOT NULL DEFAULT '',
		created_at       TEXT NOT NULL,
		deadline_at      TEXT NOT NULL,
		finished_at      TEXT,
		error            TEXT NOT NULL DEFAULT '',
		submit_started_at TEXT,
		submit_ms        REAL,
		accepted_at      TEXT,
		smtp_outcome     TEXT NOT NULL DEFAULT '',
		smtp_stage       TEXT NOT NULL DEFAULT '',
		smtp_code        INTEGER NOT NULL DEFAULT 0,
		smtp_enhanced    TEXT NOT NULL DEFAULT '',
		smtp_text        TEXT NOT NULL DEFAULT '',
		smtp_reason      TEXT NOT NULL DEFAULT '',
		queue_id         TEXT NOT NULL DEFAULT '',
		tls_version      TEXT NOT NULL DEFAULT '',
		tls_cipher       TEXT NOT NULL DEFAULT '',
		tls_server_name  TEXT NOT NULL DEFAULT '',
		tls_cert_subject TEXT NOT NULL DEFAULT '',
		tls_cert_issuer  TEXT NOT NULL DEFAULT '',
		tls_cert_expiry  TEXT,
		transcript       TEXT NOT NULL DEFAULT '',
		found_at         TEXT,
		folder           TEXT NOT NULL DEFAULT '',
		folder_role      TEXT NOT NULL DEFAULT '',
		imap_uid         INTEGER NOT NULL DEFAULT 0,
		internal_date    TEXT,
		latency_ms       REAL,
		flags            TEXT NOT NULL DEFAULT '',
		headers          TEXT NOT NULL DEFAULT '',
		authserv_id      TEXT NOT NULL DEFAULT '',
		spf              TEXT NOT NULL DEFAULT '',
		dkim             TEXT NOT NULL DEFAULT '',
		dmarc            TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX probes_round ON probes(round_id);
	CREATE INDEX probes_state ON probes(state);
	CREATE TABLE smtp_stages (
		probe_id    INTEGER NOT NULL REFERENCES probes(id) ON DELETE CASCADE,
		seq         INTEGER NOT NULL,
		stage       TEXT NOT NULL,
		started_at  TEXT NOT NULL,
		duration_ms REAL NOT NULL,
		code        INTEGER NOT NULL DEFAULT 0,
		enhanced    TEXT NOT NULL DEFAULT '',
		text        TEXT NOT NULL DEFAULT '',
		error       TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (probe_id, seq)
	);
	CREATE TABLE auth_results (
		probe_id     INTEGER NOT NULL REFERENCES probes(id) ON DELETE CASCADE,
		header_index INTEGER NOT NULL,
		seq          INTEGER NOT NULL,
		authserv_id  TEXT NOT NULL,
		trusted      INTEGER NOT NULL,
		method       TEXT NOT NULL,
		result       TEXT NOT NULL,
		reason       TEXT NOT NULL DEFAULT '',
		props        TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (probe_id, header_index, seq)
	);`,
	// 2: probes sent over a connection opened for an earlier probe.
	`ALTER TABLE probes ADD COLUMN smtp_reused INTEGER NOT NULL DEFAULT 0;`,
	// 3: what the latency was measured to: "seen" or "internaldate".
	`ALTER TABLE probes ADD COLUMN latency_basis TEXT NOT NULL DEFAULT '';`,
	// 4: the header analysis of a found probe, as report.AnalysisJSON.
	`ALTER TABLE probes ADD COLUMN analysis TEXT NOT NULL DEFAULT '';`,
	// 5: what mailflow report reads, as a covering index: a report over a
	// million probes reads index pages, never the wide rows.
	`CREATE INDEX probes_report ON probes(created_at, check_name, path, seed, provider, state, placement,
		latency_ms, spf, dkim, dmarc, tls_version);`,
	// 6: alert state (one row per rule and group) and the notification
	// outbox, written in the same transaction as the state they announce.
	`CREATE TABLE alerts (
		alert        TEXT PRIMARY KEY,
		check_name   TEXT NOT NULL,
		rule         TEXT NOT NULL,
		grp          TEXT NOT NULL,
		status       TEXT NOT NULL,
		since        TEXT NOT NULL,
		active_since TEXT,
		clear_since  TEXT,
		started_at   TEXT,
		notified_at  TEXT,
		repeats      INTEGER NOT NULL DEFAULT 0,
		summary      TEXT NOT NULL DEFAULT '',
		value        REAL NOT NULL DEFAULT 0,
		threshold    REAL NOT NULL DEFAULT 0,
		probes       TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE notifications (
		id         INTEGER PRIMARY KEY,
		alert      TEXT NOT NULL,
		notifier   TEXT NOT NULL,
		event      TEXT NOT NULL,
		created_at TEXT NOT NULL,
		attempts   INTEGER NOT NULL DEFAULT 0,
		next_at    TEXT NOT NULL,
		done_at    TEXT,
		outcome    TEXT NOT NULL DEFAULT '',
		last_error TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX notifications_due ON notifications(done_at, next_at);
	CREATE INDEX probes_check_created ON probes(check_name, created_at);`,
	// 7: probes_report again, with what a report compares of a probe (state,
	// placement, SPF, DKIM, DMARC, TLS) reduced to the one number of
	// reportClass in report.go: a report then reads 3 values a probe, not 8.
	// The expression must stay reportClass's, or the index no longer covers
	// the report (TestReportQueryPlan).
	`DROP INDEX probes_report;
	CREATE INDEX probes_report ON probes(created_at, check_name, path, seed, provider, latency_ms,
		((CASE state WHEN 'found' THEN 0 WHEN 'missing' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END) * 128
		+ (CASE WHEN placement = 'inbox' THEN 1 WHEN placement = 'spam' THEN 2 WHEN substr(placement, 1, 4) = 'tab:' THEN 3
			WHEN substr(placement, 1, 6) = 'other:' THEN 4 ELSE 0 END) * 16
		+ (spf = 'pass') + (dkim = 'pass') * 2 + (dmarc = 'pass') * 4 + (tls_version != '') * 8));`,
}

func (d *DB) migrate(ctx context.Context) error {
	var version int
	if err := d.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this mailflow knows (%d): upgrade mailflow", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		err := d.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

func (d *DB) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ts formats an instant for storage: UTC, nanoseconds, sortable as text.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
}

func parseTS(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
