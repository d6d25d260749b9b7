//go:build !unix

package alert

import "os/exec"

// killGroup leaves the default: a cancelled context kills the process itself
// (there are no process groups to kill here); WaitDelay still bounds the wait
// for its children's pipes.
func killGroup(*exec.Cmd) {}
