package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// This file holds what the daemon's HTTP listener reads: recent probes and
// rounds for the JSON API, the latest facts its metrics start from, and a
// cheap query that says the database answers.

// RecentProbes returns up to limit probes created at or after since (any time
// when since is zero), of check when not "", newest first, with their stages
// and authentication rows.
func (d *DB) RecentProbes(ctx context.Context, since time.Time, check string, limit int) ([]Probe, error) {
	// created_at leads the probes_report index: a short window reads a short
	// range of it, whatever the size of the table.
	where, args := recentWhere("created_at", since, check)
	out, err := d.queryProbeList(ctx, where+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("recent probes: %w", err)
	}
	if err := d.details(ctx, out); err != nil {
		return nil, fmt.Errorf("recent probes: %w", err)
	}
	return out, nil
}

// RoundSummary is one round and how its probes ended.
type RoundSummary struct {
	ID         int64
	Check      string
	StartedAt  time.Time
	FinishedAt time.Time // zero while the round runs, or when mailflow stopped during it
	Probes     int
	// Placements counts the probes by placement ("inbox", "spam",
	// "tab:promotions", "missing", "rejected"...); a probe not yet final counts
	// under its state ("pending" or "sent").
	Placements map[string]int
}

// RecentRounds returns up to limit rounds started at or after since (any time
// when since is zero), of check when not "", newest first, with their probes
// counted by placement.
func (d *DB) RecentRounds(ctx context.Context, since time.Time, check string, limit int) ([]RoundSummary, error) {
	where, args := recentWhere("started_at", since, check)
	rows, err := d.db.QueryContext(ctx, `SELECT id, check_name, started_at, finished_at FROM rounds `+where+
		` ORDER BY started_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("recent rounds: %w", err)
	}
	var out []RoundSummary
	index := map[int64]int{}
	for rows.Next() {
		var r RoundSummary
		var started, finished sql.NullString
		if err := rows.Scan(&r.ID, &r.Check, &started, &finished); err != nil {
			rows.Close()
			return nil, fmt.Errorf("recent rounds: %w", err)
		}
		r.StartedAt, r.FinishedAt, r.Placements = parseTS(started), parseTS(finished), map[string]int{}
		index[r.ID] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]any, len(out))
	for i, r := range out {
		ids[i] = r.ID
	}
	// probes_round serves this: one index range per round.
	rows, err = d.db.QueryContext(ctx, `SELECT round_id, CASE placement WHEN '' THEN state ELSE placement END, count(*)
		FROM probes WHERE round_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) GROUP BY 1, 2`, ids...)
	if err != nil {
		return nil, fmt.Errorf("recent rounds: count probes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var placement string
		var n int
		if err := rows.Scan(&id, &placement, &n); err != nil {
			return nil, fmt.Errorf("recent rounds: count probes: %w", err)
		}
		r := &out[index[id]]
		r.Placements[placement] += n
		r.Probes += n
	}
	return out, rows.Err()
}

func recentWhere(column string, since time.Time, check string) (string, []any) {
	where, args := `WHERE `+column+` >= ?`, []any{""}
	if !since.IsZero() {
		args[0] = ts(since)
	}
	if check != "" {
		where += ` AND check_name = ?`
		args = append(args, check)
	}
	return where, args
}

// Latest is what the store knows of the last round of each check: what the
// daemon's metrics show after a restart, before its first round ends.
type Latest struct {
	// Rounds holds the last finished round of each check.
	Rounds []LatestRound
	// Probes holds the final probes of those rounds.
	Probes []Probe
}

// LatestRound is the last finished round of a check.
type LatestRound struct {
	ID         int64
	Check      string
	FinishedAt time.Time
}

// Latest returns the last finished round of every check and its final probes,
// without stages and authentication rows. It reads the rounds table and one
// index range of probes per check, so it stays cheap however many probes are
// stored.
func (d *DB) Latest(ctx context.Context) (Latest, error) {
	var l Latest
	// SQLite returns the bare columns of the row that holds max(id).
	rows, err := d.db.QueryContext(ctx, `SELECT max(id), check_name, finished_at FROM rounds
		WHERE finished_at IS NOT NULL GROUP BY check_name ORDER BY check_name`)
	if err != nil {
		return l, fmt.Errorf("latest rounds: %w", err)
	}
	for rows.Next() {
		var r LatestRound
		var finished sql.NullString
		if err := rows.Scan(&r.ID, &r.Check, &finished); err != nil {
			rows.Close()
			return l, fmt.Errorf("latest rounds: %w", err)
		}
		r.FinishedAt = parseTS(finished)
		l.Rounds = append(l.Rounds, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("latest rounds: %w", err)
	}
	for _, r := range l.Rounds {
		probes, err := d.queryProbeList(ctx, `WHERE round_id = ? AND state NOT IN (?, ?) ORDER BY id`, r.ID, StatePending, StateSent)
		if err != nil {
			return l, fmt.Errorf("latest probes of round %d: %w", r.ID, err)
		}
		l.Probes = append(l.Probes, probes...)
	}
	return l, nil
}

// Ping reports whether the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM rounds LIMIT 1)`).Scan(&n); err != nil {
		return fmt.Errorf("database %s: %w", d.path, err)
	}
	return nil
}
