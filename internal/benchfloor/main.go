// Command benchfloor is the floor that BenchmarkLaunch measures the launcher
// against: a Go program that does nothing but start the command its
// arguments name, on its own descriptors, wait for it and exit with its
// code. What it costs over a direct start is what any Go launcher pays on
// the machine at hand (the runtime's start and exit, a fork and an exec);
// the launcher's own work is what it costs beyond that.
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		os.Stderr.WriteString("usage: benchfloor command [args...]\n")
		os.Exit(2)
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Stderr.WriteString("benchfloor: " + err.Error() + "\n")
		os.Exit(127)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
}
