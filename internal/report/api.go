package report

import "github.com/mailflow/mailflow/internal/store"

// ToJSON returns the stable JSON form of one probe, as `--json` prints it and
// the daemon's /api/probes serves it. The probe's stages and authentication
// rows are included when p carries them. The wire transcript is never part of
// it.
func ToJSON(p store.Probe) ProbeJSON { return toJSON(p) }
