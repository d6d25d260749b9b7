//go:build unix

package alert

import (
	"os/exec"
	"syscall"
)

// killGroup starts the command in a process group of its own and makes a
// cancelled context kill the whole group: a shell script's children (a curl,
// a sleep) die with it instead of holding its pipes open.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
