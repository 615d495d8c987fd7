//go:build !linux

package main

import (
	"crypto/rand"
	"syscall"
)

// gatewaySysProcAttr puts the gateway in a process group of its own (the
// terminal's signals are claude's). There is no parent-death signal here:
// the gateway watches its lifeline (gatewayspec.LifelineFD).
func gatewaySysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitExited returns at once and reports that it did not wait: without
// waitid's WNOWAIT the pid is reaped by Wait4 alone, and a signal sent in
// the instant after could in theory reach a new process with the same pid,
// a risk os/exec also takes.
func waitExited(int) bool { return false }

// socketCloseOnExec is a TCP socket, close-on-exec before any process can
// be started.
func socketCloseOnExec() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	return fd, err
}

// randomBytes fills b with random bytes from crypto/rand.
func randomBytes(b []byte) error {
	_, err := rand.Read(b)
	return err
}
