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
// streams: a report over millions of probes holds only its aggregates.
func (d *DB) ReportRows(ctx context.Context, since time.Time, check, by string, f func(ReportRow)) error {
	col, ok := groupColumns[by]
	if !ok {
		return fmt.Errorf("cannot group by %q (use path, seed, provider or check)", by)
	}
	q := `SELECT ` + col + `, state, placement, latency_ms, spf, dkim, dmarc, tls_version != ''
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
	for rows.Next() {
		var r ReportRow
		var lat sql.NullFloat64
		if err := rows.Scan(&r.Key, &r.State, &r.Placement, &lat, &r.SPF, &r.DKIM, &r.DMARC, &r.TLS); err != nil {
			return err
		}
		r.LatencyMS, r.Found = lat.Float64, r.State == StateFound && lat.Valid
		f(r)
	}
	return rows.Err()
}
