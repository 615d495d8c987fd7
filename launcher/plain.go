package launcher

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// runPlain runs claude on the launcher's own descriptors: every byte passes
// both ways untouched and unbuffered, end of input included, because claude
// reads and writes them itself.
//
// With a Watch, and stdout not a terminal (a pipe, a file), claude's stdout
// goes through a pipe so the launcher can read a copy: every read is
// written on at once, unchanged. A terminal on stdout is left alone: a pipe
// there would change what claude draws.
func runPlain(cmd Command, o Options) (int, error) {
	stdout := o.Stdout
	var det *detect.Detector
	copied := make(chan struct{})
	if o.Watch != nil && !term.IsTerminal(int(o.Stdout.Fd())) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return ExitFailure, fmt.Errorf("watching claude's output: %w", err)
		}
		det = detect.NewPlain()
		stdout = pw
		go func() {
			defer close(copied)
			copyWatched(o.Stdout, pr, det)
		}()
		defer pr.Close() // best effort: after the copy, or after giving up on it
		defer pw.Close() // the parent's copy: claude holds its own
	} else {
		close(copied)
	}

	sigs := o.Signals.wait()
	if sig, ok := o.Signals.ended(); ok {
		return 128 + int(sig), nil
	}
	pid, err := startChild(cmd, []*os.File{o.Stdin, stdout, o.Stderr}, nil)
	if err != nil {
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
				signalChild(pid, sig)
			case <-done:
				return
			}
		}
	}()
	if det != nil {
		_ = stdout.Close() // only claude's copy keeps the pipe open now
	}
	ws, err := waitChild(pid, false)
	close(done)
	if err != nil {
		return ExitFailure, fmt.Errorf("waiting for %s: %w", cmd.Path, err)
	}
	select {
	case <-copied:
	case <-time.After(drainGrace):
		o.logf("stdout still open %v after claude exited; not waiting for it", drainGrace)
	}
	if det != nil {
		reportPlain(det, o.Watch)
	}
	return statusCode(ws), nil
}

// copyWatched copies src to dst, each read written at once, and gives the
// detector a copy after the bytes have gone out.
func copyWatched(dst io.Writer, src io.Reader, det *detect.Detector) {
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				_, _ = io.Copy(io.Discard, src) // the reader is gone; let claude finish writing
				return
			}
			det.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// reportPlain records what a run without a terminal showed and reports the
// last incident, after claude exited.
func reportPlain(det *detect.Detector, w *Watch) {
	det.Flush()
	var last detect.Incident
	seen := map[int]detect.Incident{}
	for {
		select {
		case inc := <-det.Incidents():
			seen[inc.Seq] = inc
			if inc.Seq >= last.Seq {
				last = inc
			}
			continue
		default:
		}
		break
	}
	if w.Record != nil {
		for _, inc := range seen {
			w.Record(inc, "none")
		}
	}
	if last.Seq > 0 && w.Report != nil {
		w.Report(last)
	}
}

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
