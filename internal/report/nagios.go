package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mailflow/mailflow/internal/store"
	"github.com/mailflow/mailflow/internal/verdict"
)

// Nagios and Icinga plugin exit statuses (Nagios Plugin Guidelines).
const (
	NagiosOK       = 0
	NagiosWarning  = 1
	NagiosCritical = 2
	NagiosUnknown  = 3
)

var nagiosNames = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// Nagios judges a round's probes as a Nagios plugin does, and returns its one
// status line, with performance data, and its exit status:
//
//   - CRITICAL: a probe was not accepted (rejected, deferred, error), is
//     missing, landed in spam, or took crit or longer;
//   - WARNING: a probe landed in a tab or another folder, or took warn or longer;
//   - OK otherwise; UNKNOWN when there is no probe at all.
//
// The text names the worst probes first (at most three), so the line a pager
// shows says what broke. Perfdata carries each found probe's round trip in
// seconds with warn and crit, and the count of each placement.
func Nagios(probes []store.Probe, warn, crit time.Duration) (string, int) {
	if len(probes) == 0 {
		return "MAILFLOW UNKNOWN - no probe was run", NagiosUnknown
	}
	status := NagiosOK
	var worst [3][]string // reasons by status: warning, critical
	counts := map[string]int{}
	var slowest time.Duration
	var perf []string
	for _, p := range probes {
		key := p.Path + "/" + p.Seed
		placement := p.Placement
		if placement == "" {
			placement = p.State
		}
		counts[placementGroup(placement)]++
		level, why := NagiosOK, ""
		switch {
		case p.State == store.StateRejected || p.State == store.StateDeferred || p.State == store.StateError:
			level, why = NagiosCritical, key+" "+note(p)
		case p.State == store.StateMissing:
			level, why = NagiosCritical, key+" missing"
		case placement == "spam":
			level, why = NagiosCritical, key+" in spam"
		case placement != "inbox":
			level, why = NagiosWarning, key+" in "+placement
		}
		if p.State == store.StateFound {
			rtt := p.Sighting.Latency
			slowest = max(slowest, rtt)
			perf = append(perf, fmt.Sprintf("'rtt_%s'=%.3fs;%s;%s;0", perfLabel(key), rtt.Seconds(), seconds(warn), seconds(crit)))
			switch {
			case crit > 0 && rtt >= crit && level < NagiosCritical:
				level, why = NagiosCritical, fmt.Sprintf("%s took %s", key, rtt.Round(time.Millisecond))
			case warn > 0 && rtt >= warn && level < NagiosWarning:
				level, why = NagiosWarning, fmt.Sprintf("%s took %s", key, rtt.Round(time.Millisecond))
			}
		}
		if level > NagiosOK {
			worst[level] = append(worst[level], why)
		}
		status = max(status, level)
	}
	for _, group := range []string{"inbox", "spam", "other", "missing", "failed"} {
		perf = append(perf, fmt.Sprintf("'%s'=%d;;;0;%d", group, counts[group], len(probes)))
	}
	summary := fmt.Sprintf("%d/%d probes in the inbox, slowest %s", counts["inbox"], len(probes), slowest.Round(time.Millisecond))
	if status > NagiosOK {
		reasons := append(worst[NagiosCritical], worst[NagiosWarning]...)
		more := ""
		if len(reasons) > 3 {
			more = fmt.Sprintf(" and %d more", len(reasons)-3)
			reasons = reasons[:3]
		}
		summary = strings.Join(reasons, "; ") + more + "; " + summary
	}
	line := fmt.Sprintf("MAILFLOW %s - %s | %s", nagiosNames[status], oneLine(summary), strings.Join(perf, " "))
	return line, status
}

// seconds prints a threshold in plain decimal seconds: perfdata has no exponents.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// placementGroup folds placements into the perfdata counters.
func placementGroup(placement string) string {
	switch c := verdict.Placement(placement).Class(); c {
	case verdict.Inbox, verdict.Spam, verdict.Missing:
		return string(c)
	case "tab", "other":
		return "other"
	}
	return "failed"
}

// perfLabel keeps a label free of the quote and '=' that end it.
func perfLabel(s string) string {
	return strings.NewReplacer("'", "_", "=", "_", " ", "_").Replace(s)
}

// oneLine keeps the status text on one line and clear of '|', which starts perfdata.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "|", "/").Replace(s)
}
