package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailflow/mailflow/internal/lab"
)

const webToken = "web-token-0d5e8a91c4"

// webConfig writes a lab config whose check runs every second, with the web
// listener on a free loopback port behind a bearer token.
func webConfig(t *testing.T, l *lab.Lab, schedule string) string {
	t.Helper()
	t.Setenv("MAILFLOW_TEST_WEB_TOKEN", webToken)
	path := labConfigWith(t, l, fmt.Sprintf("[checks.often]\nschedule = %q\ndeadline = \"3s\"\npoll_interval = \"1s\"\n", schedule), "alice", "bob")
	setWeb(t, path, "[web]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"MAILFLOW_TEST_WEB_TOKEN\"\n")
	return path
}

// lockedBuffer collects a daemon's log from the goroutine that reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// webDaemon is a `mailflow run` in a process of its own.
type webDaemon struct {
	cmd  *exec.Cmd
	addr string        // where its web listener is
	read chan struct{} // closed when its stderr is read to the end
}

// startWebDaemon starts `mailflow run` with JSON logs and waits for it to
// say where its web listener is.
func startWebDaemon(t *testing.T, cfg string, logs *lockedBuffer) *webDaemon {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--config", cfg, "--log-level", "info", "--log-format", "json")
	cmd.Env = append(os.Environ(), "MAILFLOW_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &webDaemon{cmd: cmd, read: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(d.read)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "web listening" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.read
			cmd.Wait()
		}
	})
	select {
	case d.addr = <-addr:
	case <-d.read:
		t.Fatalf("mailflow run ended without serving")
	case <-time.After(30 * time.Second):
		t.Fatal("mailflow run did not say where it listens within 30s")
	}
	return d
}

// stop sends SIGTERM and wants exit status 0 within 10 seconds.
func (d *webDaemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() {
		<-d.read
		exited <- d.cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("mailflow run after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("mailflow run did not stop within 10s of SIGTERM")
	}
}

// fetch GETs url with the bearer token when not "".
func fetch(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// metricValue scrapes /metrics and returns the counter or gauge series of
// name with exactly the labels given as pairs, NaN when absent, and the
// histogram's sample count for a histogram.
func metricValue(t *testing.T, base, name string, pairs ...string) float64 {
	t.Helper()
	code, body := fetch(t, base+"/metrics", webToken)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	want := map[string]string{}
	for i := 0; i < len(pairs); i += 2 {
		want[pairs[i]] = pairs[i+1]
	}
	for _, m := range fams[name].GetMetric() {
		if len(m.Label) == len(want) && labelsMatch(m, want) {
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return math.NaN()
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	for _, l := range m.Label {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// TestRunServes runs `mailflow run` on the lab, scrapes /metrics until the
// probes of a round appear, reads the API, stops it with SIGTERM, and starts
// it again to see the gauges come back from the store.
func TestRunServes(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := webConfig(t, l, "@every 1s")
	logs := &lockedBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("mailflow run logs:\n%s", logs.String())
		}
	}()
	d := startWebDaemon(t, cfg, logs)
	base := "http://" + d.addr
	if host, _, _ := net.SplitHostPort(d.addr); host != "127.0.0.1" {
		t.Errorf("listening on %s, want 127.0.0.1", d.addr)
	}

	if code, _ := fetch(t, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics without the token = %d, want 401", code)
	}
	inbox := []string{"check", "often", "path", "submission", "seed", "alice", "provider", "lab", "placement", "inbox"}
	spam := []string{"check", "often", "path", "submission", "seed", "bob", "provider", "lab", "placement", "spam"}
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !(metricValue(t, base, "mailflow_probes_total", inbox...) >= 1 && metricValue(t, base, "mailflow_probes_total", spam...) >= 1) {
		if time.Now().After(deadline) {
			t.Fatal("no probe in the inbox and in spam within 60s of /metrics")
		}
		<-tick.C
	}
	rtt := metricValue(t, base, "mailflow_probe_round_trip_seconds", "check", "often", "path", "submission", "seed", "alice", "provider", "lab")
	if !(rtt >= 1) {
		t.Errorf("round-trip samples of submission → alice = %v, want at least 1", rtt)
	}
	if v := metricValue(t, base, "mailflow_auth_results_total", "check", "often", "path", "submission", "seed", "alice", "method", "dkim", "result", "pass"); !(v >= 1) {
		t.Errorf("dkim pass of submission → alice = %v, want at least 1", v)
	}
	if v := metricValue(t, base, "mailflow_smtp_stage_outcomes_total", "check", "often", "path", "submission", "stage", "starttls", "outcome", "ok"); !(v >= 1) {
		t.Errorf("starttls ok on submission = %v, want at least 1", v)
	}
	if v := metricValue(t, base, "mailflow_tls_certificate_expiry_timestamp_seconds", "path", "submission", "server_name", "localhost"); !(v > float64(time.Now().Unix())) {
		t.Errorf("certificate expiry of submission = %v, want a time in the future", v)
	}
	if v := metricValue(t, base, "mailflow_last_round_timestamp_seconds", "check", "often"); math.IsNaN(v) || math.Abs(v-float64(time.Now().Unix())) > 60 {
		t.Errorf("last round of often = %v, want about now", v)
	}

	code, body := fetch(t, base+"/api/probes?limit=1000", webToken)
	var probes []struct{ Token, Seed, Placement string }
	if err := json.Unmarshal(body, &probes); code != http.StatusOK || err != nil || len(probes) < 2 {
		t.Errorf("GET /api/probes = %d %v, %d probes, want 200 with the probes of a round", code, err, len(probes))
	}
	if code, body := fetch(t, base+"/healthz", webToken); code != http.StatusOK || !bytes.Contains(body, []byte(`"status": "ok"`)) {
		t.Errorf("GET /healthz = %d %s, want 200 ok", code, body)
	}
	secrets := []string{l.Password, webToken}
	for _, s := range l.Seeds {
		secrets = append(secrets, s.Password)
	}
	for _, path := range []string{"/api/probes?limit=1000", "/api/rounds", "/api/report", "/metrics"} {
		_, body := fetch(t, base+path, webToken)
		for _, s := range secrets {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("GET %s: the response holds a secret", path)
			}
		}
	}
	d.stop(t)
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Error("a secret reached mailflow run's log")
		}
	}

	// Started again with no round due for an hour, it shows the last round
	// from the store.
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, bytes.Replace(text, []byte(`"@every 1s"`), []byte(`"@every 1h"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	d = startWebDaemon(t, cfg, logs)
	base = "http://" + d.addr
	var rounds []struct {
		Check      string     `json:"check"`
		FinishedAt *time.Time `json:"finished_at"`
	}
	code, body = fetch(t, base+"/api/rounds?limit=1000", webToken)
	if err := json.Unmarshal(body, &rounds); code != http.StatusOK || err != nil || len(rounds) == 0 {
		t.Fatalf("GET /api/rounds after a restart = %d %v %s, want the rounds of the first run", code, err, body)
	}
	var last time.Time
	for _, r := range rounds {
		if r.FinishedAt != nil && r.FinishedAt.After(last) {
			last = *r.FinishedAt
		}
	}
	if v, want := metricValue(t, base, "mailflow_last_round_timestamp_seconds", "check", "often"), float64(last.UnixNano())/1e9; math.Abs(v-want) > 1e-3 {
		t.Errorf("last round after a restart = %v, want %v, the last finished_at in the store", v, want)
	}
	if v := metricValue(t, base, "mailflow_last_probe_timestamp_seconds", "check", "often", "path", "submission", "seed", "alice"); math.IsNaN(v) {
		t.Error("no last-probe time for submission → alice after a restart")
	}
	if v := metricValue(t, base, "mailflow_probes_total", inbox...); v != 0 {
		t.Errorf("probes_total after a restart = %v, want 0 before any round", v)
	}
	d.stop(t)
}

// TestRunListenFailure wants `mailflow run` to exit 2, naming the address,
// when the web listener's address is taken.
func TestRunListenFailure(t *testing.T) {
	l, err := lab.Start(lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := labConfigWith(t, l, "[checks.often]\nschedule = \"@every 1h\"\ndeadline = \"3s\"\npoll_interval = \"1s\"\n", "alice")
	setWeb(t, cfg, fmt.Sprintf("[web]\nlisten = %q\n", busy.Addr().String()))
	code, _, errOut := mailflow(t, "run", "--config", cfg)
	if code != exitFailed || !strings.Contains(errOut, "web.listen "+busy.Addr().String()) {
		t.Errorf("mailflow run with its web address taken = %d, stderr:\n%s\nwant 2 naming web.listen %s", code, errOut, busy.Addr())
	}
}
