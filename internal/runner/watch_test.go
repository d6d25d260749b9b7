package runner

import (
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
)

func TestPollIntervalIsTheShortestOfTheSeedsChecks(t *testing.T) {
	cfg := &config.Config{Checks: map[string]*config.Check{
		"slow": {Seeds: []string{"a", "b"}, PollInterval: 30 * time.Second},
		"fast": {Seeds: []string{"b"}, PollInterval: 5 * time.Second},
	}}
	for seed, want := range map[string]time.Duration{"a": 30 * time.Second, "b": 5 * time.Second, "c": config.DefaultPollInterval} {
		if got := pollInterval(cfg, seed); got != want {
			t.Errorf("pollInterval(%s) = %s, want %s", seed, got, want)
		}
	}
}
