package web

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailflow/mailflow/internal/alert"
	"github.com/mailflow/mailflow/internal/config"
)

// AlertsFunc returns every alert as it stands; the alert engine provides it.
type AlertsFunc func(ctx context.Context) ([]alert.State, error)

// alertsTimeout bounds one call of the AlertsFunc from a scrape, which has no
// context of its own.
const alertsTimeout = 5 * time.Second

// alertsCollector makes mailflow_alerts_firing at scrape time: one series per
// configured rule, counting its alerts (one per group) now firing.
type alertsCollector struct {
	desc   *prometheus.Desc
	alerts AlertsFunc
	rules  [][2]string // check, rule
}

func newAlertsCollector(cfg *config.Config, alerts AlertsFunc) *alertsCollector {
	c := &alertsCollector{alerts: alerts, desc: prometheus.NewDesc("mailflow_alerts_firing",
		"Alerts of a check's rule now firing (one per group of probes the rule watches).", []string{"check", "rule"}, nil)}
	for _, ch := range cfg.Checks {
		for _, r := range ch.Alerts {
			c.rules = append(c.rules, [2]string{ch.Name, r.Name})
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *alertsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. Alerts of rules no longer
// configured are left out, which keeps the series bounded by the config.
func (c *alertsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), alertsTimeout)
	defer cancel()
	states, err := c.alerts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("alerts: %w", err))
		return
	}
	firing := map[[2]string]int{}
	for _, s := range states {
		if s.Status == alert.StatusFiring {
			firing[[2]string{s.Check, s.Rule}]++
		}
	}
	for _, r := range c.rules {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(firing[r]), r[0], r[1])
	}
}
