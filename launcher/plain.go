package launcher

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// runPlain runs claude on the launcher's own descriptors: every byte passes
// both ways untouched and unbuffered, end of input included, because claude
// reads and writes them itself.
func runPlain(cmd Command, o Options) (int, error) {
	c := exec.Command(cmd.Path, cmd.Args...)
	c.Env = cmd.Env
	c.Stdin, c.Stdout, c.Stderr = o.Stdin, o.Stdout, o.Stderr

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, relayed...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return startCode(err), fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if fromTerminal(sig) {
					continue // the terminal sent it to claude's process group too
				}
				_ = c.Process.Signal(sig) // best effort: claude may have just exited
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	close(done)
	if c.ProcessState == nil {
		return ExitFailure, fmt.Errorf("waiting for %s: %w", cmd.Path, err)
	}
	return exitCode(c.ProcessState), nil
}

// relayed are the signals the launcher passes on to claude. Listed, never
// "all": SIGCHLD, SIGURG (the Go runtime's preemption) and the job-control
// signals are not claude's business here.
var relayed = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT}

// fromTerminal reports whether a keyboard signal (SIGINT, SIGQUIT) most
// likely came from the controlling terminal, which sends it to the whole
// foreground process group — claude included — so relaying it would deliver
// it twice. It is true when the launcher's process group is the terminal's
// foreground group.
func fromTerminal(sig os.Signal) bool {
	if sig != syscall.SIGINT && sig != syscall.SIGQUIT {
		return false
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false // no controlling terminal: the signal was sent to us alone
	}
	defer tty.Close()
	fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == syscall.Getpgrp()
}
