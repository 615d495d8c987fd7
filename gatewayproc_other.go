//go:build !linux

package main

import "syscall"

// gatewaySysProcAttr puts the gateway in a process group of its own (the
// terminal's signals are claude's). There is no parent-death signal here:
// the gateway watches its lifeline (gatewayspec.LifelineFD).
func gatewaySysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitExited returns at once: without waitid's WNOWAIT the pid is reaped
// by Wait4 alone, and a signal sent in the instant after could in theory
// reach a new process with the same pid, a risk os/exec also takes.
func waitExited(int) {}
