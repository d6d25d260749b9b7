//go:build unix

package alert

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailflow/mailflow/internal/config"
)

// script writes a shell script into a fresh directory and returns a command
// notifier that runs it with that directory as its argument.
func script(t *testing.T, body string, timeout time.Duration) (Notifier, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(file, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return newTestNotifier(t, &config.Notifier{Name: "pager", Type: config.NotifyCommand,
		Command: []string{file, dir}, Timeout: timeout}, nil), dir
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCommandGetsTheEvent(t *testing.T) {
	t.Setenv("MAILFLOW_TEST_INHERITED", "from mailflow")
	n, dir := script(t, `cat > "$1/stdin.json"; env > "$1/env"`+"\n", 5*time.Second)
	e := resolved()
	if err := n.Notify(context.Background(), e); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "stdin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, e) {
		t.Errorf("stdin %s (%v), want the event %+v", b, err, e)
	}
	b, err = os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	for k, want := range map[string]string{
		"ID": "resolved-1", "STATUS": "resolved", "ALERT": "default/slow/path=submission", "CHECK": "default",
		"RULE": "slow", "KIND": "latency", "SEVERITY": "critical", "GROUP": "path=submission",
		"SUMMARY": "p95 round trip 40s, under 2m0s again", "VALUE": "192.5", "THRESHOLD": "120",
		"STARTS_AT": "2025-05-01T10:00:00Z", "ENDS_AT": "2025-05-01T10:45:00Z", "REPEAT": "0",
	} {
		if got, ok := env["MAILFLOW_ALERT_"+k]; !ok || got != want {
			t.Errorf("MAILFLOW_ALERT_%s = %q (set: %v), want %q", k, got, ok, want)
		}
	}
	if env["MAILFLOW_TEST_INHERITED"] != "from mailflow" {
		t.Errorf("MAILFLOW_TEST_INHERITED = %q, want mailflow's environment passed on", env["MAILFLOW_TEST_INHERITED"])
	}
}

// gone reports whether a process has ended (a zombie counts: it runs nothing).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// pid (comm) STATE ...: comm may hold spaces, so look after the last ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] == "Z"
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	var pid int
	waitFor(t, "the script to write "+file, func() bool {
		b, err := os.ReadFile(file)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// TestCommandTimeoutKillsItsChildren runs a script whose child sleeps past the
// timeout: the notifier must return soon after the timeout, with both dead.
func TestCommandTimeoutKillsItsChildren(t *testing.T) {
	n, dir := script(t, `sleep 60 & echo $! > "$1/child.pid"; wait`+"\n", 500*time.Millisecond)
	start := time.Now()
	err := n.Notify(context.Background(), firing())
	if err == nil || !strings.Contains(err.Error(), "notifier pager: command ") ||
		!strings.Contains(err.Error(), "killed after the 500ms timeout") {
		t.Fatalf("Notify = %v, want it killed after the 500ms timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Notify = %v, want errors.Is context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond+waitDelay+2*time.Second {
		t.Errorf("Notify returned after %s, want soon after its 500ms timeout", d)
	}
	child := readPID(t, filepath.Join(dir, "child.pid"))
	waitFor(t, "the script's child to die", func() bool { return gone(child) })
}

// TestCommandCancelled stops a running command through the caller's context.
func TestCommandCancelled(t *testing.T) {
	n, dir := script(t, `echo $$ > "$1/started"; exec sleep 60`+"\n", time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Notify(ctx, firing()) }()
	pid := readPID(t, filepath.Join(dir, "started"))
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "killed: context canceled") || !errors.Is(err, context.Canceled) {
			t.Errorf("Notify = %v, want it killed by the cancelled context", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Notify did not return after its context was cancelled")
	}
	waitFor(t, "the command to die", func() bool { return gone(pid) })
}

func TestCommandFails(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
		not        []string
	}{
		{"exit 3", `echo "first line, long scrolled away" >&2
i=0; while [ $i -lt 100 ]; do echo "filler line $i" >&2; i=$((i+1)); done
echo "page failed: no route to the pager" >&2
exit 3
`, []string{"notifier pager: command ", "exit status 3: ...", "filler line 99 page failed: no route to the pager"}, []string{"first line", "filler line 50"}},
		{"signal", "kill -9 $$\n", []string{"signal: killed"}, nil},
		{"not executable", "", []string{"notifier pager: command ", "permission denied"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, dir := script(t, tc.body, 5*time.Second)
			if tc.name == "not executable" {
				os.Chmod(filepath.Join(dir, "notify.sh"), 0o644)
			}
			err := n.Notify(context.Background(), firing())
			if err == nil {
				t.Fatal("Notify = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Notify = %q, want it to contain %q", err, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("Notify = %q, want it without %q", err, w)
				}
			}
			if len(err.Error()) > stderrKept+len(dir)+100 {
				t.Errorf("Notify error is %d bytes, want about %d of stderr at most", len(err.Error()), stderrKept)
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		n := newTestNotifier(t, &config.Notifier{Name: "pager", Type: config.NotifyCommand, Command: []string{"/nonexistent/page"}}, nil)
		err := n.Notify(context.Background(), firing())
		if err == nil || !strings.Contains(err.Error(), "notifier pager: command /nonexistent/page: ") ||
			!strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("Notify = %v, want the command not found", err)
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		n, dir := script(t, `touch "$1/ran"`+"\n", 5*time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := n.Notify(ctx, firing())
		if err == nil || err.Error() != "notifier pager: command not run: context canceled" {
			t.Errorf("Notify = %v, want it not run", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
			t.Error("the command ran with a cancelled context")
		}
	})
}

// TestCommandLeavesAChild: a command that exits 0 but leaves a child holding
// its stderr has succeeded, and Notify does not wait for the child.
func TestCommandLeavesAChild(t *testing.T) {
	n, dir := script(t, `sleep 60 >&2 & echo $! > "$1/child.pid"; exit 0`+"\n", time.Minute)
	start := time.Now()
	if err := n.Notify(context.Background(), firing()); err != nil {
		t.Errorf("Notify = %v, want nil", err)
	}
	if d := time.Since(start); d > waitDelay+5*time.Second {
		t.Errorf("Notify returned after %s, want about its %s wait delay", d, waitDelay)
	}
	child := readPID(t, filepath.Join(dir, "child.pid"))
	syscall.Kill(child, syscall.SIGKILL)
}
