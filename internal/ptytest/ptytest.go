// Package ptytest lets a test be the terminal of a child process: it opens a
// pseudo-terminal, runs the child on its slave end as a session leader with
// the slave as controlling terminal, types into the master and reads what the
// child draws.
//
// Full-screen programs such as Claude Code's TUI do not print lines: they
// move the cursor and rewrite cells, so the raw bytes have escape sequences
// where spaces were. WaitForScreen matches text with escape sequences and
// whitespace removed from both the output and the needle, which survives
// cursor jumps and line wrapping at any width.
package ptytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// drainGrace bounds how long Wait keeps reading the master after the child
// exited: a grandchild that inherited the slave can keep it open forever.
const drainGrace = 2 * time.Second

// Term is a child process running on a pseudo-terminal that the test drives.
type Term struct {
	t         testing.TB
	cmd       *exec.Cmd
	ptmx      *os.File
	slavePath string

	mu      sync.Mutex
	out     []byte
	sizes   []sizeAt      // the initial size and each Resize, with the output offset it took effect at
	changed chan struct{} // closed and replaced on every read and at EOF
	readEOF bool

	readDone chan struct{} // closed when the reader goroutine ends
	exited   chan struct{} // closed when the child has been reaped
	waitErr  error
	state    *os.ProcessState
}

// sizeAt is a terminal size from output offset off on.
type sizeAt struct{ off, rows, cols int }

// Start runs cmd on a new pseudo-terminal of rows x cols. The size is set
// before the child starts (a child started at 0x0 and resized later may read
// the wrong size). cmd's Stdin, Stdout and Stderr are the slave unless set.
// The child is killed, with its process group, when the test ends.
func Start(t testing.TB, cmd *exec.Cmd, rows, cols int) *Term {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("ptytest: open pty: %v", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}); err != nil {
		_ = ptmx.Close() // failing anyway
		_ = tty.Close()  // failing anyway
		t.Fatalf("ptytest: set pty size: %v", err)
	}
	if cmd.Stdin == nil {
		cmd.Stdin = tty
	}
	if cmd.Stdout == nil {
		cmd.Stdout = tty
	}
	if cmd.Stderr == nil {
		cmd.Stderr = tty
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A new session whose controlling terminal is the slave, as a login shell
	// would have it: Ctty is the child's descriptor 0 (its stdin is the slave).
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	if err := cmd.Start(); err != nil {
		_ = ptmx.Close() // failing anyway
		_ = tty.Close()  // failing anyway
		t.Fatalf("ptytest: start %s: %v", cmd.Path, err)
	}
	// The parent must not keep the slave open: reading the master only ends
	// (EIO) when every slave descriptor is closed.
	slavePath := tty.Name()
	_ = tty.Close() // the child has its own copies

	tm := &Term{
		t: t, cmd: cmd, ptmx: ptmx, slavePath: slavePath,
		changed:  make(chan struct{}),
		sizes:    []sizeAt{{0, rows, cols}},
		readDone: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go tm.read()
	go func() {
		tm.waitErr = cmd.Wait()
		tm.state = cmd.ProcessState
		close(tm.exited)
	}()
	t.Cleanup(tm.cleanup)
	return tm
}

// read copies the master into the buffer until EIO, which is how a pty
// master reports that every slave descriptor is closed.
func (tm *Term) read() {
	defer close(tm.readDone)
	buf := make([]byte, 32*1024)
	for {
		n, err := tm.ptmx.Read(buf)
		tm.mu.Lock()
		tm.out = append(tm.out, buf[:n]...)
		if err != nil {
			tm.readEOF = true
		}
		close(tm.changed)
		tm.changed = make(chan struct{})
		tm.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// cleanup is the watchdog: whatever the test did, the child and its process
// group die and the master is closed when the test ends.
func (tm *Term) cleanup() {
	select {
	case <-tm.exited:
	default:
		if tm.cmd.Process != nil {
			_ = syscall.Kill(-tm.cmd.Process.Pid, syscall.SIGKILL) // the group may be gone already
			_ = tm.cmd.Process.Kill()                              // and the leader too
		}
		select {
		case <-tm.exited:
		case <-time.After(10 * time.Second):
			tm.t.Errorf("ptytest: %s did not die within 10s of SIGKILL", tm.cmd.Path)
		}
	}
	_ = tm.ptmx.Close() // unblocks the reader if a grandchild still holds the slave
	select {
	case <-tm.readDone:
	case <-time.After(5 * time.Second):
		tm.t.Errorf("ptytest: reader did not end within 5s of closing the master")
	}
}

// Pid returns the child's process ID, which is also its process group and session ID.
func (tm *Term) Pid() int { return tm.cmd.Process.Pid }

// Master returns the master end, for tests that need it directly (for
// example to read the foreground process group with unix.IoctlGetInt(fd,
// unix.TIOCGPGRP)).
func (tm *Term) Master() *os.File { return tm.ptmx }

// SlavePath returns the path of the slave end, e.g. /dev/pts/3.
func (tm *Term) SlavePath() string { return tm.slavePath }

// Write types s into the terminal, failing the test if it cannot.
func (tm *Term) Write(s string) {
	tm.t.Helper()
	if _, err := tm.ptmx.Write([]byte(s)); err != nil {
		tm.t.Fatalf("ptytest: write %q: %v", s, err)
	}
}

// Type types s one rune at a time with a pause between them, as a person
// would; some TUIs treat a burst of bytes as a paste.
func (tm *Term) Type(s string, pause time.Duration) {
	tm.t.Helper()
	for _, r := range s {
		tm.Write(string(r))
		time.Sleep(pause) // pacing keystrokes, not synchronization
	}
}

// Resize changes the terminal size; the kernel sends SIGWINCH to the
// foreground process group.
func (tm *Term) Resize(rows, cols int) {
	tm.t.Helper()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if err := pty.Setsize(tm.ptmx, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}); err != nil {
		tm.t.Fatalf("ptytest: resize to %dx%d: %v", rows, cols, err)
	}
	tm.sizes = append(tm.sizes, sizeAt{len(tm.out), rows, cols})
}

// Screen renders everything the child has written so far on a Screen of the
// terminal's size, resized where the test resized the terminal.
func (tm *Term) Screen() *Screen {
	tm.mu.Lock()
	out, sizes := tm.out, slices.Clone(tm.sizes)
	tm.mu.Unlock()
	return render(out, sizes)
}

func render(out []byte, sizes []sizeAt) *Screen {
	scr := NewScreen(sizes[0].rows, sizes[0].cols)
	off := 0
	for _, sz := range sizes[1:] {
		_, _ = scr.Write(out[off:sz.off]) // never fails
		scr.Resize(sz.rows, sz.cols)
		off = sz.off
	}
	_, _ = scr.Write(out[off:]) // never fails
	return scr
}

// WaitForScreenState waits until cond holds for the screen as rendered from
// the output so far (see Screen), and returns that screen. It fails the test
// with what and the screen after timeout.
func (tm *Term) WaitForScreenState(t testing.TB, what string, cond func(*Screen) bool, timeout time.Duration) *Screen {
	t.Helper()
	var scr *Screen
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		out, sizes := tm.out, slices.Clone(tm.sizes)
		ch, eof := tm.changed, tm.readEOF
		tm.mu.Unlock()
		scr = render(out, sizes)
		if cond(scr) {
			return scr
		}
		if eof {
			t.Fatalf("ptytest: output ended without %s; the screen:\n%s", what, scr)
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("ptytest: waited %v for %s; the screen:\n%s", timeout, what, scr)
		}
	}
}

// Shows reports whether text is on the visible screen, matched as
// WaitForScreen matches (escape sequences and whitespace ignored), so a
// message wrapped over several rows is found.
func (s *Screen) Shows(text string) bool {
	return bytes.Contains(Squeeze([]byte(s.String())), Squeeze([]byte(text)))
}

// Output returns a copy of everything the child has written so far.
func (tm *Term) Output() []byte {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return bytes.Clone(tm.out)
}

// Len returns how many bytes the child has written so far; pass it to the
// *Since methods to look only at what comes after.
func (tm *Term) Len() int {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return len(tm.out)
}

// waitUntil polls match against the output from offset since each time new
// output arrives, until it holds, output ends, or timeout. It fails the test
// with what and the tail of the output (raw and as screen text) otherwise.
func (tm *Term) waitUntil(t testing.TB, what string, since int, timeout time.Duration, match func([]byte) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		out := tm.out
		if since > len(out) {
			since = len(out)
		}
		out = out[since:]
		ch, eof := tm.changed, tm.readEOF
		tm.mu.Unlock()
		if match(out) {
			return
		}
		if eof {
			t.Fatalf("ptytest: output ended without %s\n%s", what, describe(out))
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("ptytest: waited %v for %s\n%s", timeout, what, describe(out))
		}
	}
}

func describe(out []byte) string {
	raw := out
	if len(raw) > 1500 {
		raw = raw[len(raw)-1500:]
	}
	screen := ScreenText(out)
	if len(screen) > 1500 {
		screen = screen[len(screen)-1500:]
	}
	return fmt.Sprintf("--- last raw output (%d bytes in all):\n%q\n--- as text:\n%s", len(out), raw, screen)
}

// Until waits until cond holds for the raw output so far and reports
// whether it did; false when the output ended or timeout passed first. It
// never fails the test: use it where the outcome is a measurement.
func (tm *Term) Until(cond func(out []byte) bool, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		out, ch, eof := tm.out, tm.changed, tm.readEOF
		tm.mu.Unlock()
		if cond(out) {
			return true
		}
		if eof {
			return false
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// WaitFor waits until the raw output contains substr.
func (tm *Term) WaitFor(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	tm.WaitForSince(t, 0, substr, timeout)
}

// WaitForSince waits until the raw output after offset since contains substr.
func (tm *Term) WaitForSince(t testing.TB, since int, substr string, timeout time.Duration) {
	t.Helper()
	tm.waitUntil(t, fmt.Sprintf("%q", substr), since, timeout, func(b []byte) bool {
		return bytes.Contains(b, []byte(substr))
	})
}

// WaitForRegexp waits until the raw output matches re and returns the match.
func (tm *Term) WaitForRegexp(t testing.TB, re *regexp.Regexp, timeout time.Duration) []byte {
	t.Helper()
	var m []byte
	tm.waitUntil(t, "/"+re.String()+"/", 0, timeout, func(b []byte) bool {
		m = re.Find(b)
		return m != nil
	})
	return m
}

// WaitForScreen waits until text appears on screen: the output and text are
// both compared with escape sequences and whitespace removed (see Squeeze),
// so cursor jumps standing in for spaces and wrapped lines do not matter.
func (tm *Term) WaitForScreen(t testing.TB, text string, timeout time.Duration) {
	t.Helper()
	tm.WaitForScreenSince(t, 0, text, timeout)
}

// WaitForScreenSince is WaitForScreen looking only at output after offset since.
func (tm *Term) WaitForScreenSince(t testing.TB, since int, text string, timeout time.Duration) {
	t.Helper()
	needle := Squeeze([]byte(text))
	tm.waitUntil(t, fmt.Sprintf("%q on screen", text), since, timeout, func(b []byte) bool {
		return bytes.Contains(Squeeze(b), needle)
	})
}

// WaitForScreenCount waits until text has appeared on screen at least n times.
func (tm *Term) WaitForScreenCount(t testing.TB, text string, n int, timeout time.Duration) {
	t.Helper()
	needle := Squeeze([]byte(text))
	tm.waitUntil(t, fmt.Sprintf("%q on screen %d times", text, n), 0, timeout, func(b []byte) bool {
		return bytes.Count(Squeeze(b), needle) >= n
	})
}

// ScreenCount returns how many times text has appeared on screen so far, in
// the sense of WaitForScreen.
func (tm *Term) ScreenCount(text string) int {
	return bytes.Count(Squeeze(tm.Output()), Squeeze([]byte(text)))
}

// WaitQuiet waits until the child has written nothing for quiet, so that a
// TUI has finished redrawing, and fails the test if that does not happen
// within timeout (a spinner never goes quiet). It is for recording and
// inspecting screens, not for synchronizing on an event: wait for the text
// that announces the event instead.
func (tm *Term) WaitQuiet(t testing.TB, quiet, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		ch, eof := tm.changed, tm.readEOF
		tm.mu.Unlock()
		if eof {
			return
		}
		select {
		case <-ch: // new output: start the quiet period again
		case <-time.After(quiet):
			return
		case <-deadline.C:
			t.Fatalf("ptytest: output did not pause for %v within %v\n%s", quiet, timeout, describe(tm.Output()))
		}
	}
}

// Wait waits for the child to exit and for its output to end (bounded by a
// short grace period, as a grandchild can hold the terminal open), and
// returns its exit code: 128+N if it died of signal N. It fails the test if
// the child is still running after timeout.
func (tm *Term) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-tm.exited:
	case <-time.After(timeout):
		t.Fatalf("ptytest: %s still running after %v\n%s", tm.cmd.Path, timeout, describe(tm.Output()))
	}
	select {
	case <-tm.readDone:
	case <-time.After(drainGrace):
	}
	return ExitCode(tm.state, tm.waitErr)
}

// Exited returns a channel closed when the child has exited.
func (tm *Term) Exited() <-chan struct{} { return tm.exited }

// ExitCode turns a process state into a shell-style exit code: the code, or
// 128+N for death by signal N, or -1 if unknown.
func ExitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1
	}
	return ps.ExitCode()
}

// Mode is the line discipline state of the terminal, read from the slave.
type Mode struct {
	Canonical bool // ICANON: input is line-buffered
	Echo      bool // ECHO: typed characters are echoed
	Signals   bool // ISIG: Ctrl-C, Ctrl-Z, Ctrl-\ send signals
	CRNL      bool // ICRNL: a typed CR becomes NL
	OPost     bool // OPOST: output is post-processed (NL -> CRNL)
}

// Raw reports whether the mode is raw in the sense of cfmakeraw / term.MakeRaw.
func (m Mode) Raw() bool { return !m.Canonical && !m.Echo && !m.Signals && !m.CRNL && !m.OPost }

// Sane reports whether the mode is the cooked mode a shell expects.
func (m Mode) Sane() bool { return m.Canonical && m.Echo && m.Signals && m.CRNL && m.OPost }

// Mode reads the current terminal mode from the slave end, so a test can
// assert that a program switched the terminal to raw mode and restored it.
func (tm *Term) Mode(t testing.TB) Mode {
	t.Helper()
	// Open by name without becoming its controlling terminal; O_NOCTTY
	// matters because the test process may have no terminal of its own.
	f, err := os.OpenFile(tm.slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("ptytest: open %s to read its mode: %v", tm.slavePath, err)
	}
	defer f.Close() // read-only use
	tio, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatalf("ptytest: read termios of %s: %v", tm.slavePath, err)
	}
	return Mode{
		Canonical: tio.Lflag&unix.ICANON != 0,
		Echo:      tio.Lflag&unix.ECHO != 0,
		Signals:   tio.Lflag&unix.ISIG != 0,
		CRNL:      tio.Iflag&unix.ICRNL != 0,
		OPost:     tio.Oflag&unix.OPOST != 0,
	}
}

// ForegroundPgrp returns the terminal's foreground process group.
func (tm *Term) ForegroundPgrp(t testing.TB) int {
	t.Helper()
	pgrp, err := unix.IoctlGetInt(int(tm.ptmx.Fd()), unix.TIOCGPGRP)
	if err != nil {
		t.Fatalf("ptytest: read foreground process group: %v", err)
	}
	return pgrp
}

// Squeeze returns b as a screen would show it with all whitespace removed:
// escape sequences (CSI, OSC, DCS and the like, and two-byte escapes) and
// C0/C1 control characters are dropped, as are spaces. Comparing squeezed
// text makes a match survive cursor movements standing in for spaces and
// lines wrapped at any width. An escape sequence cut off at the end of b is
// dropped too.
func Squeeze(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x1b:
			i = skipEscape(b, i)
		case c == 0x9b: // 8-bit CSI is not valid UTF-8 alone; Claude Code does not send it
			i++
		case c < 0x20 || c == 0x7f || c == ' ':
			i++
		default:
			// Multibyte UTF-8: keep; non-breaking space (C2 A0) counts as whitespace.
			if c == 0xc2 && i+1 < len(b) && b[i+1] == 0xa0 {
				i += 2
				continue
			}
			out = append(out, c)
			i++
		}
	}
	return out
}

// skipEscape returns the index after the escape sequence starting at b[i] (ESC).
func skipEscape(b []byte, i int) int {
	i++ // ESC
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '[': // CSI: parameters and intermediates, then a final byte 0x40-0x7e
		for i++; i < len(b); i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				return i + 1
			}
		}
		return i
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: until BEL or ST (ESC \)
		for i++; i < len(b); i++ {
			if b[i] == 0x07 {
				return i + 1
			}
			if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	case '(', ')', '*', '+', '-', '.', '/', '#', '%', ' ': // charset and similar: one more byte
		return min(i+2, len(b))
	default: // two-byte escape such as ESC 7, ESC =, ESC M
		return i + 1
	}
}

// ScreenText returns b with escape sequences removed and cursor movement
// approximated by a space, for failure messages a person reads. It is not a
// terminal emulator.
func ScreenText(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x1b:
			j := skipEscape(b, i)
			if j-i >= 3 && b[i+1] == '[' && strings.ContainsRune("ABCDGHf", rune(b[j-1])) {
				sb.WriteByte(' ')
			}
			i = j
		case c == '\n':
			sb.WriteByte('\n')
			i++
		case c < 0x20 || c == 0x7f:
			i++
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return sb.String()
}
