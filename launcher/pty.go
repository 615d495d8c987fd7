package launcher

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// drainGrace bounds how long the launcher keeps copying claude's output after
// claude has exited: a grandchild may hold the PTY open, and then no EIO (the
// end of output) ever comes.
const drainGrace = 500 * time.Millisecond

// runPTY runs claude in a new PTY with the user's terminal in raw mode, so
// that claude sees a terminal exactly as without the launcher.
func runPTY(cmd Command, o Options) (code int, err error) {
	inFd := int(o.Stdin.Fd())
	size, err := pty.GetsizeFull(o.Stdin)
	if err != nil || size.Rows == 0 || size.Cols == 0 {
		size = &pty.Winsize{Rows: 24, Cols: 80} // a terminal that reports no size
	}

	// Catch the signals before anything can go wrong: Go's default action for
	// them exits without running deferred code, which would leave the
	// terminal raw.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGWINCH}, relayed...)...)
	defer signal.Stop(sigs)

	// Raw before claude starts, so that nothing typed early is echoed or
	// turned into a signal by the user's own terminal.
	state, err := term.MakeRaw(inFd)
	if err != nil {
		return ExitFailure, fmt.Errorf("making the terminal raw: %w", err)
	}
	modes := &modeTracker{}
	restore := func() {
		_, _ = o.Stdout.Write(modes.resetSequence()) // best effort: a gone terminal needs no reset
		_ = term.Restore(inFd, state)                // best effort: nothing more can be done
	}
	var once sync.Once
	defer once.Do(restore)
	defer func() {
		if r := recover(); r != nil {
			once.Do(restore)
			panic(r)
		}
	}()

	c := exec.Command(cmd.Path, cmd.Args...)
	c.Env = cmd.Env
	// The size is set before the start: sending SIGWINCH after it let claude
	// start at 0x0 in about one run of four (measured).
	ptmx, err := pty.StartWithSize(c, size)
	if err != nil {
		return startCode(err), fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	defer ptmx.Close() // best effort: by then claude is gone

	go pumpInput(o.Stdin, ptmx)

	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		copyOutput(o.Stdout, ptmx, modes)
	}()

	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()

	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGWINCH {
				if err := pty.InheritSize(o.Stdin, ptmx); err != nil {
					o.logf("resizing the pty: %v", err)
				}
				continue
			}
			o.logf("relaying %v to claude", sig)
			_ = c.Process.Signal(sig) // best effort: claude may have just exited
		case <-exited:
			select {
			case <-outDone:
			case <-time.After(drainGrace):
				o.logf("output still open %v after claude exited; not waiting for it", drainGrace)
			}
			once.Do(restore)
			return exitCode(c.ProcessState), nil
		}
	}
}

// copyOutput copies claude's screen output to the user's terminal until the
// PTY reports end of output (EIO on Linux once every holder of the other end
// has closed it). The bytes go out first; whatever watches them reads after.
func copyOutput(dst io.Writer, ptmx *os.File, modes *modeTracker) {
	buf := make([]byte, 32*1024)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return // the user's terminal is gone; nothing to show output on
			}
			modes.Write(buf[:n])
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) {
				return // an unexpected read error ends the output the same way
			}
			return
		}
	}
}

// pumpInput copies the user's keystrokes to claude. It is the only reader of
// stdin for the whole run: a blocked Read cannot be cancelled, so a second
// reader would steal keystrokes.
func pumpInput(stdin io.Reader, ptmx io.Writer) {
	buf := make([]byte, 4096)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			if _, werr := ptmx.Write(buf[:n]); werr != nil {
				return // claude is gone
			}
		}
		if err != nil {
			return // end of input: a terminal in raw mode sends ^D as a byte instead
		}
	}
}
