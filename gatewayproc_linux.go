package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// gatewaySysProcAttr puts the gateway in a process group of its own (the
// terminal's signals are claude's) and has the kernel send it SIGTERM when
// the launcher dies, SIGKILL included.
func gatewaySysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// waitExited waits until process pid has ended, without reaping it: its
// pid stays reserved, so a signal sent to it meanwhile cannot reach
// another process. It reports that it waited.
func waitExited(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return true
		}
	}
}

// socketCloseOnExec is a TCP socket, close-on-exec from its creation.
func socketCloseOnExec() (int, error) {
	return syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
}

// randomBytes fills b from the kernel's random source. crypto/rand would do
// the same, and also arm a timer on its first use (to warn if the kernel's
// pool is not ready within a minute), which starts the runtime's poller and
// costs the launch more than the read itself.
func randomBytes(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Getrandom(b, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
