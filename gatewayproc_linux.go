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
// another process.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}
