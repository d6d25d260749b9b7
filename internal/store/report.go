package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// ReportTally counts the probes of one group of a report: one path, seed,
// provider or check.
type ReportTally struct {
	Key      string // the value of the grouping column
	Sent     int    // every probe
	Accepted int    // found, missing or sent: the server took the message
	// Inbox, Spam, Tab and Other count the accepted probes by placement;
	// Missing those of the rest that were not found by their deadline.
	Inbox, Spam, Tab, Other, Missing int
	TLS                              int // accepted probes submitted over TLS
	// Found counts the found probes with a round trip; SPF, DKIM and DMARC
	// those of them that passed.
	Found, SPF, DKIM, DMARC int
	// RTT is the histogram of the found probes' round trips: one bucket per
	// millisecond [k, k+1) that has any, in ascending order.
	RTT []LatencyBucket

	buckets map[int64]int // whole milliseconds to index in RTT
}

// LatencyBucket counts the N found probes whose round trip, in milliseconds,
// fell in [k, k+1) for one whole k. MaxMS is the longest of them, so the last
// bucket's MaxMS is the exact maximum.
type LatencyBucket struct {
	MaxMS float64
	N     int
}

// GroupKeys are the ways a report groups probes, in the order help lists them.
var GroupKeys = []string{"path", "seed", "provider", "check"}

// groupColumns are the columns a report may group by, by GroupKeys.
var groupColumns = map[string]string{"path": "path", "seed": "seed", "provider": "provider", "check": "check_name"}

// reportClass reduces what a report compares of a probe to one number: its
// state (bits 7-8), placement (bits 4-6), SPF, DKIM and DMARC passes and TLS
// (bits 0-3). See the class constants. The index probes_report keeps it (see
// migrations), so SQLite reads it there instead of computing it for every
// probe: a change here needs a new migration with the same expression.
const reportClass = `((CASE state WHEN 'found' THEN 0 WHEN 'missing' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END) * 128
	+ (CASE WHEN placement = 'inbox' THEN 1 WHEN placement = 'spam' THEN 2 WHEN substr(placement, 1, 4) = 'tab:' THEN 3
		WHEN substr(placement, 1, 6) = 'other:' THEN 4 ELSE 0 END) * 16
	+ (spf = 'pass') + (dkim = 'pass') * 2 + (dmarc = 'pass') * 4 + (tls_version != '') * 8)`

// The parts of a reportClass.
const (
	classFound, classMissing, classSent, classNotAccepted = 0, 1, 2, 3 // class >> 7

	classInbox, classSpam, classTab, classOther = 1, 2, 3, 4 // (class >> 4) & 7

	classSPF, classDKIM, classDMARC, classTLS = 1, 2, 4, 8
)

// reportQuery is the query of ReportTallies. Its parameters are the run's
// handle, since, and check when filterCheck is set.
func reportQuery(col string, filterCheck bool) string {
	q := `SELECT mailflow_tally(?, ` + col + `, ` + reportClass + `, latency_ms)
		FROM probes INDEXED BY probes_report WHERE created_at >= ?`
	if filterCheck {
		q += ` AND check_name = ?`
	}
	return q
}

// ReportTallies counts the probes created at or after since (all when since is
// zero), of check when not "", grouped by the column by (path, seed, provider
// or check), in key order.
//
// The counting happens inside the query, in mailflow_tally, an aggregate
// function written in Go: SQLite walks the covering index probes_report and
// hands each probe to it as its key, its reportClass (kept in the index) and
// its round trip; one row comes back. Neither alternative keeps a million
// probes under half a second: streaming every row through the driver costs
// about 1 µs a row, and SQLite's GROUP BY sorts every row before it counts
// any, which alone costs more.
func (d *DB) ReportTallies(ctx context.Context, since time.Time, check, by string) ([]ReportTally, error) {
	col, ok := groupColumns[by]
	if !ok {
		return nil, fmt.Errorf("cannot group by %q (use path, seed, provider or check)", by)
	}
	if errTallyFunc != nil {
		return nil, fmt.Errorf("report: %w", errTallyFunc)
	}
	handle, groups := tallyRuns.start()
	defer tallyRuns.end(handle)
	args := []any{handle, ts(since.UTC())}
	if since.IsZero() {
		args[1] = ""
	}
	if check != "" {
		args = append(args, check)
	}
	var discard any
	if err := d.db.QueryRowContext(ctx, reportQuery(col, check != ""), args...).Scan(&discard); err != nil {
		return nil, fmt.Errorf("report by %s: %w", by, err)
	}
	out := make([]ReportTally, 0, len(groups))
	for _, t := range groups {
		t.buckets = nil
		slices.SortFunc(t.RTT, func(a, b LatencyBucket) int { return cmp.Compare(a.MaxMS, b.MaxMS) })
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b ReportTally) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// add counts one probe of class with round trip latency (nil when none).
func (t *ReportTally) add(class int64, latency driver.Value) {
	t.Sent++
	state := class >> 7
	if state == classNotAccepted {
		return // never reached a mailbox (pending: not sent yet)
	}
	t.Accepted++
	if class&classTLS != 0 {
		t.TLS++
	}
	switch (class >> 4) & 7 {
	case classInbox:
		t.Inbox++
	case classSpam:
		t.Spam++
	case classTab:
		t.Tab++
	case classOther:
		t.Other++
	default:
		if state == classMissing {
			t.Missing++
		}
	}
	ms, ok := latency.(float64)
	if state != classFound || !ok {
		return
	}
	t.Found++
	if class&classSPF != 0 {
		t.SPF++
	}
	if class&classDKIM != 0 {
		t.DKIM++
	}
	if class&classDMARC != 0 {
		t.DMARC++
	}
	k := int64(math.Floor(ms))
	i, ok := t.buckets[k]
	if !ok {
		i = len(t.RTT)
		t.buckets[k] = i
		t.RTT = append(t.RTT, LatencyBucket{MaxMS: ms})
	}
	t.RTT[i].N++
	t.RTT[i].MaxMS = max(t.RTT[i].MaxMS, ms)
}

// errTallyFunc is why mailflow_tally could not be registered, if it could not.
// Connections opened after registration have it.
var errTallyFunc = sqlite.RegisterFunction("mailflow_tally", &sqlite.FunctionImpl{
	NArgs:        4,
	VolatileArgs: true, // the key is cloned before it is kept
	MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) {
		return &tallyFunc{}, nil
	},
})

// tallyRuns holds the groups of each report query under way, by the handle
// the query passes to mailflow_tally: an aggregate function returns one SQL
// value, so the groups it fills stay on this side.
var tallyRuns = runs{m: map[int64]map[string]*ReportTally{}}

type runs struct {
	mu   sync.Mutex
	last int64
	m    map[int64]map[string]*ReportTally
}

func (r *runs) start() (int64, map[string]*ReportTally) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last++
	groups := map[string]*ReportTally{}
	r.m[r.last] = groups
	return r.last, groups
}

func (r *runs) get(handle int64) map[string]*ReportTally {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[handle]
}

func (r *runs) end(handle int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, handle)
}

// tallyFunc is one evaluation of mailflow_tally(handle, key, class, latency_ms).
type tallyFunc struct {
	groups map[string]*ReportTally
}

func (f *tallyFunc) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	if f.groups == nil {
		handle, _ := args[0].(int64)
		if f.groups = tallyRuns.get(handle); f.groups == nil {
			return fmt.Errorf("mailflow_tally: no report %v under way", args[0])
		}
	}
	key, _ := args[1].(string)
	t := f.groups[key]
	if t == nil {
		key = strings.Clone(key) // SQLite reuses the argument's memory
		t = &ReportTally{Key: key, buckets: map[int64]int{}}
		f.groups[key] = t
	}
	class, _ := args[2].(int64)
	t.add(class, args[3])
	return nil
}

func (f *tallyFunc) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return errors.New("mailflow_tally is not a window function")
}

func (f *tallyFunc) WindowValue(*sqlite.FunctionContext) (driver.Value, error) { return nil, nil }

func (f *tallyFunc) Final(*sqlite.FunctionContext) {}
