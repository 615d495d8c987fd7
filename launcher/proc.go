package launcher

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// startChild starts cmd with files as its descriptors 0, 1, 2 and returns
// its pid. The launcher reaps its children with wait4 itself, so it uses
// syscall.ForkExec rather than os.StartProcess: the latter first checks,
// once per process, that pidfds work by forking a throw-away child, which
// cost each launch about 0.3 ms on a 2 vCPU AMD EPYC 2.25 GHz virtual
// machine (measured).
//
// Signals go to the pid with kill(2), as os.Process did before pidfds. The
// pid cannot be reused before the launcher reaps it; a signal relayed in
// the instant between the reaping and the loop that relays learning of it
// could in theory reach a new process with the same pid, a risk os/exec
// also took before Go 1.23.
//
// The environment is cmd.Env as os/exec would pass it: the launcher's own
// when nil, and of a key given twice the last value (a relaunch sets again
// what the user's environment already has).
func startChild(cmd Command, files []*os.File, sys *syscall.SysProcAttr) (int, error) {
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd() // also makes f blocking, as claude expects its descriptors
	}
	argv := append([]string{cmd.Path}, cmd.Args...)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	pid, err := syscall.ForkExec(cmd.Path, argv, &syscall.ProcAttr{Env: lastWins(env), Files: fds, Sys: sys})
	runtime.KeepAlive(files)
	if err != nil {
		return 0, &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: err}
	}
	return pid, nil
}

// waitChild waits for the child to change state: to stop when untraced is
// true, else only to end.
func waitChild(pid int, untraced bool) (syscall.WaitStatus, error) {
	opts := 0
	if untraced {
		opts = syscall.WUNTRACED
	}
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, opts, nil)
		if !errors.Is(err, syscall.EINTR) {
			return ws, err
		}
	}
}

// statusCode is the launcher's exit code for how the child ended: its own
// code, or 128+N when it died of signal N.
func statusCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// signalChild sends sig to the process (pid > 0) or process group (pid <
// 0), best effort: claude may have just exited.
func signalChild(pid int, sig os.Signal) {
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(pid, s)
	}
}

// lastWins returns env with only the last of the entries that share a key,
// in the order of those last entries, and without entries that have no '='.
func lastWins(env []string) []string {
	last := make(map[string]int, len(env))
	for i, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok {
			last[k] = i
		}
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}
