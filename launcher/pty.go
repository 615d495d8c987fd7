package launcher

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

const (
	// drainGrace bounds how long the launcher keeps copying claude's output
	// after claude has exited: a grandchild may hold the PTY open, and then
	// no EIO (the end of output) ever comes.
	drainGrace = 500 * time.Millisecond
	// stopGrace is how long claude gets to end after SIGTERM before a
	// relaunch kills it.
	stopGrace = 5 * time.Second
	// tstpGrace is how long claude gets to stop itself after the launcher
	// passed it a SIGTSTP before it is stopped with SIGSTOP.
	tstpGrace = time.Second
)

// session is one claude process on its own PTY.
type session struct {
	pid     int
	ptmx    *os.File
	events  chan waitEvent // stops, then the exit
	outDone chan struct{}  // closed when its output ended
	feed    *feed          // the detector's copy of the output, or nil
}

// waitEvent is a change of the child's state: stopped, or gone.
type waitEvent struct {
	stopped bool
	status  syscall.WaitStatus
	err     error
}

// runner is one run of the launcher in a PTY: one terminal, one stdin
// reader, one or more claude sessions one after the other.
type runner struct {
	o      Options
	w      *Watch
	inFd   int
	saved  *term.State
	sb     switchboard
	det    *detect.Detector // nil without a Watch
	sigs   chan os.Signal
	ctrlZ  chan struct{} // the user typed Ctrl-Z to claude
	offers map[int]bool  // incidents already offered
	seen   map[int]detect.Incident

	mu         sync.Mutex // guards what follows: the user's screen
	rows, cols int
	modes      modeTracker
	tail       tailBuffer
	banner     []string  // the offer on show (its texts, longest first), or nil
	released   bool      // the terminal was given back for a stop
	lastByte   []byte    // the end of the last chunk, to find a cut UTF-8 rune
	lastOut    time.Time // when claude last wrote
}

// runPTY runs claude in a new PTY with the user's terminal in raw mode, so
// that claude sees a terminal exactly as without the launcher.
func runPTY(cmd Command, o Options) (code int, err error) {
	r := &runner{o: o, w: o.Watch, inFd: int(o.Stdin.Fd()), offers: map[int]bool{}, seen: map[int]detect.Incident{}, ctrlZ: make(chan struct{}, 1)}
	r.sb.onCtrlZ = func() {
		select {
		case r.ctrlZ <- struct{}{}:
		default: // one is pending already
		}
	}
	r.tail.max = 4096
	r.rows, r.cols = 24, 80 // a terminal that reports no size
	if ws, err := pty.GetsizeFull(o.Stdin); err == nil && ws.Rows > 0 && ws.Cols > 0 {
		r.rows, r.cols = int(ws.Rows), int(ws.Cols)
	}
	if r.w != nil {
		r.det = detect.New()
		r.det.Resize(r.cols, r.rows)
		r.sb.onEnter = r.det.UserInput
	}

	r.sigs = o.Signals.wait() // before the terminal goes raw
	if sig, ok := o.Signals.ended(); ok {
		return 128 + int(sig), nil
	}

	// Raw before claude starts, so that nothing typed early is echoed or
	// turned into a signal by the user's own terminal.
	if r.saved, err = term.MakeRaw(r.inFd); err != nil {
		return ExitFailure, fmt.Errorf("making the terminal raw: %w", err)
	}
	var once sync.Once
	restore := func() { once.Do(r.restoreTerminal) }
	defer restore()
	defer func() {
		if p := recover(); p != nil {
			restore()
			panic(p)
		}
	}()

	s, err := r.start(cmd)
	if err != nil {
		return startCode(err), err
	}
	go r.sb.pump(o.Stdin)
	code, err = r.loop(s)
	restore()
	return code, err
}

// restoreTerminal gives the user's terminal back as it was: modes claude
// left on are switched off, the line discipline is restored.
func (r *runner) restoreTerminal() {
	r.mu.Lock()
	r.hideBannerLocked()
	_, _ = r.o.Stdout.Write(r.modes.resetSequence()) // best effort: a gone terminal needs no reset
	r.mu.Unlock()
	_ = term.Restore(r.inFd, r.saved) // best effort: nothing more can be done
}

// start runs one claude on a new PTY of the terminal's size.
func (r *runner) start(cmd Command) (*session, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("opening a PTY for claude: %w", err)
	}
	defer tty.Close() // the parent's copy: claude holds its own
	r.mu.Lock()
	size := &pty.Winsize{Rows: uint16(r.rows), Cols: uint16(r.cols)}
	r.mu.Unlock()
	// The size is set before the start: sending SIGWINCH after it let
	// claude start at 0x0 in about one run of four (measured).
	if err := pty.Setsize(ptmx, size); err != nil {
		_ = ptmx.Close()
		return nil, fmt.Errorf("sizing claude's PTY: %w", err)
	}
	// A new session with the PTY as its controlling terminal, as
	// pty.Start sets up. A stderr the user sent elsewhere (2>err.log)
	// stays there, as it would without the launcher.
	stderr := tty
	if !term.IsTerminal(int(r.o.Stderr.Fd())) {
		stderr = r.o.Stderr
	}
	pid, err := startChild(cmd, []*os.File{tty, tty, stderr}, &syscall.SysProcAttr{Setsid: true, Setctty: true})
	if err != nil {
		_ = ptmx.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	s := &session{pid: pid, ptmx: ptmx, events: make(chan waitEvent, 4), outDone: make(chan struct{})}
	if r.det != nil {
		s.feed = newFeed(r.det)
	}
	go s.wait()
	go func() {
		defer close(s.outDone)
		r.copyOutput(ptmx, s.feed)
	}()
	r.sb.attach(ptmx)
	return s, nil
}

// wait reports the child's stops and its end. It uses wait4 with WUNTRACED
// rather than exec.Cmd.Wait, which cannot see a child stop itself (Ctrl-Z).
func (s *session) wait() {
	for {
		ws, err := waitChild(s.pid, true)
		if err != nil {
			s.events <- waitEvent{err: err}
			return
		}
		if ws.Stopped() {
			s.events <- waitEvent{stopped: true, status: ws}
			continue
		}
		s.events <- waitEvent{status: ws}
		return
	}
}

// code is the launcher's exit code for the child's end.
func (ev waitEvent) code() int {
	switch {
	case ev.err != nil:
		return ExitFailure
	default:
		return statusCode(ev.status)
	}
}

// loop runs sessions until the last one ends, and returns its exit code.
func (r *runner) loop(s *session) (int, error) {
	var incidents <-chan detect.Incident
	if r.det != nil {
		incidents = r.det.Incidents()
	}
	var keys <-chan struct{} // while an offer shows: keys wait for it
	var offer Proposal
	var offered detect.Incident
	var tstpTimer <-chan time.Time
	// After a Ctrl-Z the launcher watches whether claude gives the
	// terminal up (switches its PTY back to canonical mode): Claude Code
	// suspends itself that way, and its own SIGTSTP is discarded by the
	// kernel because its process group is orphaned under any PTY proxy.
	var suspendPoll *time.Ticker
	var suspendPollC <-chan time.Time
	var suspendPollEnd time.Time
	stopPoll := func() {
		if suspendPoll != nil {
			suspendPoll.Stop()
		}
		suspendPoll, suspendPollC = nil, nil
	}
	defer stopPoll()
	for {
		select {
		case <-r.ctrlZ:
			stopPoll()
			suspendPoll = time.NewTicker(10 * time.Millisecond)
			suspendPollC, suspendPollEnd = suspendPoll.C, time.Now().Add(2*time.Second)
		case <-suspendPollC:
			if canonical(s.ptmx) {
				stopPoll()
				r.suspend(s)
			} else if time.Now().After(suspendPollEnd) {
				stopPoll() // claude took Ctrl-Z as a key, not a suspension
			}
		case sig := <-r.sigs:
			switch sig {
			case syscall.SIGWINCH:
				r.resize(s)
			case syscall.SIGCONT:
				r.reclaim(s) // back in the foreground after a stop we did not arrange
			case syscall.SIGTSTP:
				// Sent to the launcher (kill -TSTP, or the shell): pass it on,
				// and suspend once claude has stopped.
				_ = syscall.Kill(-s.pid, syscall.SIGTSTP) // best effort: claude may be gone
				tstpTimer = time.After(tstpGrace)
			default:
				r.o.logf("relaying %v to claude", sig)
				signalChild(s.pid, sig) // best effort: claude may have just exited
			}
		case <-tstpTimer:
			_ = syscall.Kill(-s.pid, syscall.SIGSTOP) // claude ignored SIGTSTP; stop it anyway
		case ev := <-s.events:
			if ev.stopped {
				tstpTimer = nil
				stopPoll()
				r.suspend(s)
				continue
			}
			r.finish(s)
			r.recordRest()
			if r.w != nil && !r.w.Offer && r.w.Report != nil {
				if inc, ok := r.last(); ok {
					r.restoreTerminal()
					r.w.Report(inc)
				}
			}
			return ev.code(), nil
		case inc := <-incidents:
			r.seen[inc.Seq] = inc
			if keys != nil || !r.w.Offer || r.offers[inc.Seq] || !shouldOffer(inc) || r.w.Propose == nil {
				continue
			}
			p, ok := r.w.Propose(inc)
			if !ok {
				continue
			}
			r.offers[inc.Seq], offer, offered = true, p, inc
			keys = r.sb.capture()
			r.showBanner(p.Text)
		case <-keys:
			choice, rest := r.readAnswer(r.sb.takeKeys(), offer)
			if choice == "" {
				continue // nothing typed yet: the offer stays
			}
			keys = nil
			if r.w.Record != nil {
				r.w.Record(offered, choice)
			}
			if choice == "dismiss" {
				// The user typing on is claude's, after the repaint: an
				// Enter read before it would let the detector take the
				// old error, drawn again, for a new one.
				r.sb.detach()
				r.sb.release(rest)
				r.dismissBanner(s, offered.Final && r.det.HintShown())
				r.sb.resume(s.ptmx)
				continue
			}
			r.sb.detach()
			r.sb.release(rest) // typed after the answer: for the next claude
			if choice == "keep" && r.w.Keep != nil {
				if err := r.w.Keep(offer); err != nil {
					offer.Announce += fmt.Sprintf(" (not kept: %v)", err)
				}
			}
			next, err := r.relaunch(s, offer)
			if err != nil {
				return ExitFailure, err
			}
			s = next
		}
	}
}

// readAnswer reads the keys typed while an offer shows, in order: reports
// the terminal sends by itself go on to claude; then the first key typed
// is the answer when it is one ("relaunch", "keep", "dismiss") and came
// after OfferArming. Any other key, or one typed sooner, means the user is
// typing to claude: the offer is dismissed and the key goes on to claude.
// rest are the keys after the answer, and "" says no key was typed yet.
func (r *runner) readAnswer(keys []offerKey, p Proposal) (choice string, rest []offerKey) {
	for i, k := range keys {
		if passiveInput(k.p) {
			r.sb.forward(k.p)
			continue
		}
		if !k.early {
			if c := answer(k.p, p); c != "" {
				return c, keys[i+1:]
			}
		}
		return "dismiss", keys[i:]
	}
	return "", nil
}

// answer reads the user's key for an offer: "relaunch", "keep", "dismiss",
// or "" for a key that is no answer.
func answer(k []byte, p Proposal) string {
	switch string(k) {
	case "y", "Y":
		if p.Relaunch {
			return "relaunch"
		}
	case "k", "K":
		if p.Relaunch && p.CanKeep {
			return "keep"
		}
	case "n", "N", "\x1b", "\x03":
		return "dismiss"
	}
	// Esc and Ctrl-C under the kitty keyboard protocol, with or without
	// Caps Lock and Num Lock.
	if code, mods, ok := kittyKey(k); ok && (code == kittyEsc && mods == 0 || code == codeC && mods == kittyCtrl) {
		return "dismiss"
	}
	return ""
}

// last returns the newest incident seen.
func (r *runner) last() (detect.Incident, bool) {
	var best detect.Incident
	for seq, inc := range r.seen {
		if seq > best.Seq {
			best = inc
		}
	}
	return best, best.Seq > 0
}

// recordRest records the incidents that were never offered.
func (r *runner) recordRest() {
	if r.w == nil || r.w.Record == nil {
		return
	}
	for seq, inc := range r.seen {
		if !r.offers[seq] {
			r.w.Record(inc, "none")
		}
	}
	r.seen = map[int]detect.Incident{}
}

// finish waits, briefly, for the last of a session's output.
func (r *runner) finish(s *session) {
	grace := time.After(drainGrace)
	select {
	case <-s.outDone:
	case <-grace:
		r.o.logf("output still open %v after claude exited; not waiting for it", drainGrace)
	}
	if s.feed != nil {
		r.det.Flush()
		// Incidents found in the last output are still in the channel.
		for {
			select {
			case inc := <-r.det.Incidents():
				r.seen[inc.Seq] = inc
				continue
			default:
			}
			break
		}
	}
	_ = s.ptmx.Close() // best effort: claude is gone
}

// relaunch ends the running claude politely (SIGTERM, a bounded wait, then
// SIGKILL) and starts the next one as the proposal says. Keystrokes typed
// meanwhile are held for the new claude.
func (r *runner) relaunch(s *session, p Proposal) (*session, error) {
	r.mu.Lock()
	r.hideBannerLocked()
	r.mu.Unlock()
	r.sb.detach()
	_ = syscall.Kill(s.pid, syscall.SIGTERM) // best effort: it may have exited on its own
	deadline := time.After(stopGrace)
	for done := false; !done; {
		select {
		case ev := <-s.events:
			if ev.stopped {
				_ = syscall.Kill(-s.pid, syscall.SIGCONT) // a stopped claude cannot end
				continue
			}
			done = true
		case <-deadline:
			_ = syscall.Kill(-s.pid, syscall.SIGKILL) // it had its chance
			deadline = nil
		}
	}
	r.finish(s)
	r.recordRest()

	r.mu.Lock()
	id := sessionIDIn(r.tail.buf)
	r.tail.buf = r.tail.buf[:0]
	_, _ = r.o.Stdout.Write(r.modes.resetSequence()) // a killed claude left its modes on
	r.modes = modeTracker{}
	r.mu.Unlock()

	next, err := r.w.Relaunch(p, id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	_, _ = fmt.Fprintf(r.o.Stdout, "\r\nclaude-bedrock: %s\r\n", p.Announce)
	r.mu.Unlock()
	r.det.Reset() // what the new claude replays is old
	return r.start(next)
}

// suspend follows claude into the background: claude stopped itself
// (Ctrl-Z) or was stopped, so the launcher gives the terminal back and
// stops too, which is what the user's shell waits for. When the shell
// continues it (fg), the launcher takes the terminal again and continues
// claude.
func (r *runner) suspend(s *session) {
	r.settle(s, time.Now())
	r.mu.Lock()
	banner := r.banner // an offer on show: it shows again on the way back
	r.mu.Unlock()
	r.restoreTerminal()
	r.mu.Lock()
	r.released = true
	r.mu.Unlock()
	r.stopSelf(s)
	r.reclaim(s)
	if banner != nil {
		r.sb.rearm() // keys typed as it shows again are typing, not answers
		r.showBanner(banner)
	}
	_ = syscall.Kill(-s.pid, syscall.SIGCONT) // best effort: claude may have been killed meanwhile
}

// reclaim takes the terminal back after a stop: raw mode, the modes claude
// had on, and the size (it may have changed meanwhile). In the background
// (bg) setting the terminal's mode makes the kernel stop the launcher with
// SIGTTOU until it is brought to the foreground: the check and the stop are
// one step there, with no race against a quick fg, and a stopped launcher
// reads no keystrokes meant for the shell.
func (r *runner) reclaim(s *session) {
	if _, err := term.MakeRaw(r.inFd); err != nil {
		r.o.logf("raw mode after continue: %v", err)
	}
	r.mu.Lock()
	if r.released { // only what was switched off is switched on again: twice would clear the screen
		_, _ = r.o.Stdout.Write(r.modes.setSequence()) // best effort: the terminal is ours again
		r.released = false
	}
	r.mu.Unlock()
	r.resize(s)
}

// How long settle waits for claude's last words before a stop: until its
// output has paused for settleQuiet, and at most settleMax.
const (
	settleQuiet = 100 * time.Millisecond
	settleMax   = 2 * time.Second
)

// settle returns once what claude wrote before it gave the terminal up
// ("Claude Code is suspended…") has been copied to the screen: nothing is
// left unread on the PTY, nothing was written since since, or the last
// copy, for settleQuiet, and no thread of claude is running or waiting for
// a CPU (on a loaded machine it may be about to write). A launcher that
// stopped sooner would hold those words back until fg, and the shell's
// "Stopped" would come first.
func (r *runner) settle(s *session, since time.Time) {
	for deadline := time.Now().Add(settleMax); time.Now().Before(deadline); time.Sleep(settleQuiet / 10) {
		unread, err := unix.IoctlGetInt(int(s.ptmx.Fd()), ioctlUnread)
		r.mu.Lock()
		last := r.lastOut
		r.mu.Unlock()
		if (err != nil || unread == 0) && time.Since(last) >= settleQuiet && time.Since(since) >= settleQuiet && !running(s.pid) {
			return
		}
	}
	r.o.logf("claude still writing %v after it gave the terminal up; stopping anyway", settleMax)
}

// stopSelf stops the launcher, as the shell expects of a job whose program
// stopped, and returns once it has been continued. It stops the way claude
// alone would, with SIGTSTP at its default action, so that the shell says
// "Stopped" (or zsh "suspended") and $? is 148, not the "(signal)" and 147
// of SIGSTOP. A signal to oneself is delivered asynchronously, so the
// return of kill proves nothing: the SIGCONT that ends the stop does.
// Signals meanwhile are for claude.
func (r *runner) stopSelf(s *session) {
	for drained := false; !drained; {
		select {
		case sig := <-r.sigs:
			r.relayWhileStopped(s, sig)
		default:
			drained = true
		}
	}
	if orphaned() {
		// Nothing waits for this job (tmux new 'claude-bedrock', say): the
		// kernel discards a SIGTSTP here, and a SIGSTOP would be for ever.
		r.o.logf("not stopping: the launcher's process group is orphaned")
		return
	}
	stop := syscall.SIGTSTP
	restore, err := defaultTSTP()
	if err != nil {
		r.o.logf("stopping with SIGSTOP: %v", err)
		stop, restore = syscall.SIGSTOP, func() {}
	}
	defer restore()                     // caught again once continued
	_ = syscall.Kill(os.Getpid(), stop) // the shell sees the job stop
	for sig := range r.sigs {
		if sig == syscall.SIGCONT {
			return
		}
		r.relayWhileStopped(s, sig)
	}
}

// orphaned reports whether the launcher's process group is orphaned: the
// nearest ancestor outside the group is in another session (or there is
// none), so no shell does job control for it. When that cannot be told,
// it says no.
func orphaned() bool {
	pgrp := syscall.Getpgrp()
	sid, err := unix.Getsid(0)
	if err != nil {
		return false
	}
	pid := os.Getpid()
	for range maxAncestors {
		ppid, err := parentOf(pid)
		if err != nil {
			return false
		}
		if ppid == 0 {
			return true // past the top: nobody outside the group
		}
		pg, err := unix.Getpgid(ppid)
		if err != nil {
			return false
		}
		if pg != pgrp {
			psid, err := unix.Getsid(ppid)
			return err == nil && psid != sid
		}
		pid = ppid
	}
	return false
}

// maxAncestors bounds a walk up the process tree.
const maxAncestors = 64

// relayWhileStopped handles a signal that came while the launcher was
// stopping or stopped: termination is passed on, the rest waits for the
// resize and continue that follow anyway.
func (r *runner) relayWhileStopped(s *session, sig os.Signal) {
	switch sig {
	case syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT:
		signalChild(s.pid, sig)
		_ = syscall.Kill(-s.pid, syscall.SIGCONT) // a stopped claude cannot act on it
	}
}

// resize gives claude the terminal's current size (and claude a SIGWINCH).
func (r *runner) resize(s *session) {
	ws, err := pty.GetsizeFull(r.o.Stdin)
	if err != nil || ws.Rows == 0 || ws.Cols == 0 {
		return
	}
	r.mu.Lock()
	r.rows, r.cols = int(ws.Rows), int(ws.Cols)
	r.drawBannerLocked()
	r.mu.Unlock()
	if r.det != nil {
		r.det.Resize(int(ws.Cols), int(ws.Rows))
	}
	if err := pty.Setsize(s.ptmx, ws); err != nil {
		r.o.logf("resizing the pty: %v", err)
	}
}

// copyOutput copies claude's screen output to the user's terminal until the
// PTY reports end of output (EIO on Linux once every holder of the other
// end has closed it). The bytes go out first; the watchers read after.
func (r *runner) copyOutput(ptmx *os.File, f *feed) {
	// One thread for the whole copy: a goroutine that blocks in read
	// after read otherwise hops between threads, and each hop is a
	// wakeup (measured: 6-8% less time and CPU over 50 MB of output).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, chunkSize)
	for {
		n, err := ptmx.Read(buf)
		if n > 0 {
			p := buf[:n]
			r.mu.Lock()
			_, werr := r.o.Stdout.Write(p)
			r.modes.Write(p)
			r.lastByte = append(r.lastByte[:0], p[max(0, n-utf8.UTFMax):]...)
			r.lastOut = time.Now()
			if r.w != nil {
				r.tail.Write(p)
			}
			if len(r.banner) > 0 {
				r.drawBannerLocked() // claude may have drawn over it
			}
			r.mu.Unlock()
			if f != nil {
				f.write(p)
			}
			if werr != nil {
				return // the user's terminal is gone; nothing to show output on
			}
		}
		if err != nil {
			return // EIO: end of output (io.EOF on some systems)
		}
	}
}

// atBoundary reports whether the launcher may write its own bytes now
// without cutting one of claude's escape sequences or UTF-8 characters.
func (r *runner) atBoundaryLocked() bool {
	if !r.modes.atGround() {
		return false
	}
	b := r.lastByte
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return utf8.FullRune(b[i:])
		}
	}
	return true
}

// showBanner draws an offer on the bottom row, over claude's screen.
func (r *runner) showBanner(text []string) {
	r.mu.Lock()
	r.banner = text
	r.drawBannerLocked()
	r.mu.Unlock()
}

func (r *runner) drawBannerLocked() {
	if len(r.banner) == 0 || !r.atBoundaryLocked() {
		return // drawn after the next chunk of output
	}
	text := fitText(r.banner, r.cols-2)
	// Save the cursor and its attributes, draw in reverse video, restore:
	// claude's own cursor position and colours are untouched.
	_, _ = fmt.Fprintf(r.o.Stdout, "\x1b7\x1b[%d;1H\x1b[2K\x1b[7m %s\x1b[m\x1b8", r.rows, text)
}

// hideBannerLocked erases the banner line.
func (r *runner) hideBannerLocked() {
	if len(r.banner) == 0 {
		return
	}
	r.banner = nil
	_, _ = fmt.Fprintf(r.o.Stdout, "\x1b7\x1b[%d;1H\x1b[2K\x1b8", r.rows)
}

// dismissBanner removes the banner and has claude redraw what it covered:
// a resize by one row and back makes claude repaint its whole screen. It
// returns once claude has drawn its screen at the restored size; hint
// says its screen shows a final error's Resend hint, which it draws again.
//
// One size at a time, each repaint awaited before the next resize: a claude
// slowed down by a busy machine drew the first size after the second was
// asked for, and that repaint, taken for the last one, let the user's Enter
// through before the last.
func (r *runner) dismissBanner(s *session, hint bool) {
	r.mu.Lock()
	r.hideBannerLocked()
	rows, cols := r.rows, r.cols
	r.mu.Unlock()
	if rows > 1 {
		r.resizeAndAwait(s, rows-1, cols, hint)
	}
	r.resizeAndAwait(s, rows, cols, hint)
}

// How long resizeAndAwait waits for claude to finish a repaint: at most
// repaintMax; without a Resend hint to wait for, until its output has
// paused for repaintQuiet.
const (
	repaintQuiet = 60 * time.Millisecond
	repaintMax   = time.Second
)

// resizeAndAwait sets claude's PTY to rows x cols and returns once claude
// has drawn its screen again, or after repaintMax. With a final error's
// Resend hint on screen (hint) it has once the detector has read it again:
// claude answers a resize at once with a few bytes (its mouse modes) and
// repaints tens to hundreds of milliseconds later (measured with the real
// CLI on a loaded 2 vCPU AMD EPYC 2.25 GHz VM: 84-506 ms), so no pause
// in its output tells the two apart. Otherwise, once claude has written
// and then paused for repaintQuiet: nothing the user sends can be mistaken
// there for a new failure.
func (r *runner) resizeAndAwait(s *session, rows, cols int, hint bool) {
	since, hints := time.Now(), r.det.Hints()
	_ = pty.Setsize(s.ptmx, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}) // best effort
	for deadline := since.Add(repaintMax); time.Now().Before(deadline); time.Sleep(repaintQuiet / 3) {
		var done bool
		if hint {
			done = r.det.Hints() > hints
		} else {
			r.mu.Lock()
			done = r.lastOut.After(since) && time.Since(r.lastOut) >= repaintQuiet
			r.mu.Unlock()
		}
		if done {
			return
		}
	}
}

// fitText returns the first text that fits in width columns, or else the
// end of the last one, after "…": the texts end with the keys to press,
// which must show however narrow the terminal.
func fitText(texts []string, width int) string {
	for _, t := range texts {
		if utf8.RuneCountInString(t) <= width {
			return t
		}
	}
	r := []rune(texts[len(texts)-1])
	if width <= 1 {
		return string(r[len(r)-max(width, 0):])
	}
	return "…" + string(r[len(r)-width+1:])
}

// canonical reports whether the PTY is in canonical (cooked) mode: the
// program on it has given the terminal up.
func canonical(ptmx *os.File) bool {
	tio, err := unix.IoctlGetTermios(int(ptmx.Fd()), ioctlGetTermios)
	return err == nil && tio.Lflag&unix.ICANON != 0
}
