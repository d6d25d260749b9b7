package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ReportRow is what a report needs of one probe.
type ReportRow struct {
	Key              string // the value of the grouping column
	State, Placement string
	LatencyMS        float64
	Found            bool
	SPF, DKIM, DMARC string
	TLS              bool
}

// groupColumns are the columns a report may group by.
var groupColumns = map[string]string{"path": "path", "seed": "seed", "provider": "provider", "check": "check_name"}

// ReportRows calls f for every probe created at or after since (and of check,
// when not ""), grouped by the column by (path, seed, provider or check). It
// streams: a report over millions of probes holds only its aggregates. To keep
// a million rows cheap, SQLite reduces each row to a few numbers (the column
// values a report compares are decoded here), and the key is read without a
// copy until it is new.
func (d *DB) ReportRows(ctx context.Context, since time.Time, check, by string, f func(ReportRow)) error {
	col, ok := groupColumns[by]
	if !ok {
		return fmt.Errorf("cannot group by %q (use path, seed, provider or check)", by)
	}
	q := `SELECT ` + col + `,
		CASE state WHEN 'found' THEN 0 WHEN 'missing' THEN 1 WHEN 'sent' THEN 2 WHEN 'pending' THEN 3
			WHEN 'rejected' THEN 4 WHEN 'deferred' THEN 5 ELSE 6 END,
		CASE WHEN placement = 'inbox' THEN 0 WHEN placement = 'spam' THEN 1 WHEN placement LIKE 'tab:%' THEN 2
			WHEN placement LIKE 'other:%' THEN 3 ELSE 4 END,
		latency_ms,
		(spf = 'pass') + 2 * (dkim = 'pass') + 4 * (dmarc = 'pass') + 8 * (tls_version != '')
		FROM probes INDEXED BY probes_report WHERE created_at >= ?`
	args := []any{ts(since.UTC())}
	if since.IsZero() {
		args[0] = ""
	}
	if check != "" {
		q += ` AND check_name = ?`
		args = append(args, check)
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	states := [...]string{StateFound, StateMissing, StateSent, StatePending, StateRejected, StateDeferred, StateError}
	placements := [...]string{"inbox", "spam", "tab:", "other:", ""}
	pass := func(bit int64, flags int64) string {
		if flags&bit != 0 {
			return "pass"
		}
		return ""
	}
	keys := map[string]string{}
	var key sql.RawBytes
	for rows.Next() {
		var state, placement, flags int64
		var lat sql.NullFloat64
		if err := rows.Scan(&key, &state, &placement, &lat, &flags); err != nil {
			return err
		}
		k, ok := keys[string(key)] // no allocation for a key already seen
		if !ok {
			k = string(key)
			keys[k] = k
		}
		r := ReportRow{Key: k, State: states[min(state, 6)], Placement: placements[min(placement, 4)],
			LatencyMS: lat.Float64, SPF: pass(1, flags), DKIM: pass(2, flags), DMARC: pass(4, flags), TLS: flags&8 != 0}
		r.Found = r.State == StateFound && lat.Valid
		f(r)
	}
	return rows.Err()
}
