package launcher

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// switchboard routes the user's keystrokes: to the current claude, to an
// offer while one is showing, or into a bounded holding buffer while one
// claude is being replaced by the next. One goroutine reads stdin for the
// whole run (a blocked Read cannot be cancelled, so a reader per claude
// would steal keystrokes), and every byte read goes to exactly one place.
type switchboard struct {
	mu      sync.Mutex
	dst     io.Writer // the current claude's PTY, or nil between sessions
	held    []byte    // typed between sessions
	onEnter func()    // told when Enter goes to claude
	onCtrlZ func()    // told when Ctrl-Z goes to claude

	// While an offer shows, keys wait in offerKeys for the offer to read
	// them; keysReady says some are there.
	offering   bool
	offerSince time.Time
	offerKeys  []offerKey
	offerBytes int
	keysReady  chan struct{}
}

// offerKey is what one read of stdin gave while an offer showed.
type offerKey struct {
	p []byte
	// early: read within OfferArming of the offer showing up, so typed
	// before the user could have read it: typing, never an answer.
	early bool
}

// OfferArming is how long after an offer shows up a key is still taken for
// typing that was under way, not for an answer: nobody reads the banner
// and answers it faster. Claude Code gives up, and the offer shows, just
// when a user may be typing the next message.
const OfferArming = 500 * time.Millisecond

// Keys as a terminal sends them under the kitty keyboard protocol, which
// Claude Code switches on where the terminal has it: CSI code ; modifiers u.
const (
	kittyEnter   = 13
	kittyEsc     = 27
	kittyCtrl    = 4        // the modifier bit
	kittyLocks   = 64 | 128 // Caps Lock and Num Lock, reported too
	codeC, codeZ = 'c', 'z'
)

// kittyKey reads p as one key under the kitty keyboard protocol, "CSI code
// [: alternates] [; modifiers [: event]] u": its code and its modifier bits
// less Caps Lock and Num Lock, which change nothing here. ok is false when
// p is not exactly one such key, or is a key's release.
func kittyKey(p []byte) (code, mods int, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("\x1b["))
	if !found || len(rest) < 2 || rest[len(rest)-1] != 'u' {
		return 0, 0, false
	}
	fields := bytes.Split(rest[:len(rest)-1], []byte(";"))
	if len(fields) > 3 { // a third field holds the text of the key
		return 0, 0, false
	}
	num := func(b []byte) (int, bool) {
		if len(b) == 0 || len(b) > 7 {
			return 0, false
		}
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	code, ok = num(bytes.SplitN(fields[0], []byte(":"), 2)[0])
	if !ok {
		return 0, 0, false
	}
	mods = 1
	if len(fields) > 1 {
		m, event, _ := bytes.Cut(fields[1], []byte(":"))
		if mods, ok = num(m); !ok || mods == 0 {
			return 0, 0, false
		}
		if e, _ := num(event); e == 3 {
			return 0, 0, false // a release
		}
	}
	return code, (mods - 1) &^ kittyLocks, true
}

// hasKittyKey reports whether p holds, among what it holds, the kitty key
// code with exactly the modifiers mods (locks aside).
func hasKittyKey(p []byte, code, mods int) bool {
	for {
		i := bytes.Index(p, []byte("\x1b["))
		if i < 0 {
			return false
		}
		p = p[i:]
		end := 2
		for end < len(p) && p[end] >= 0x20 && p[end] <= 0x3f {
			end++
		}
		if end == len(p) {
			return false
		}
		if c, m, ok := kittyKey(p[:end+1]); ok && c == code && m == mods {
			return true
		}
		p = p[end:]
	}
}

// maxHeld bounds what is kept of typing while claude cannot take it (an
// offer showing, a repaint, a relaunch): far above any paste, so that no
// keystroke is lost, and still a bound.
const maxHeld = 16 << 20

// pump reads stdin until it ends. It runs for the life of the process.
func (s *switchboard) pump(stdin io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			s.deliver(buf[:n])
		}
		if err != nil {
			return // end of input: in raw mode ^D is a byte, so this is a closed terminal
		}
	}
}

func (s *switchboard) deliver(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.offering:
		if s.offerBytes+len(p) <= maxHeld {
			s.offerKeys = append(s.offerKeys, offerKey{p: append([]byte(nil), p...), early: time.Since(s.offerSince) < OfferArming})
			s.offerBytes += len(p)
		}
		select {
		case s.keysReady <- struct{}{}:
		default: // told already
		}
	default:
		s.toClaudeLocked(p)
	}
}

// toClaudeLocked gives p to the current claude, or holds it for the next.
func (s *switchboard) toClaudeLocked(p []byte) {
	if s.dst == nil {
		if len(s.held)+len(p) <= maxHeld {
			s.held = append(s.held, p...)
		}
		return
	}
	if s.onEnter != nil && (bytes.IndexByte(p, '\r') >= 0 || bytes.IndexByte(p, '\n') >= 0 || hasKittyKey(p, kittyEnter, 0)) {
		s.onEnter()
	}
	if s.onCtrlZ != nil && (bytes.IndexByte(p, 0x1a) >= 0 || hasKittyKey(p, codeZ, kittyCtrl)) {
		s.onCtrlZ()
	}
	_, _ = s.dst.Write(p) // claude gone: the keystroke has nowhere to go
}

// attach makes w the destination, first giving it what was held.
func (s *switchboard) attach(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) > 0 {
		_, _ = w.Write(s.held) // a claude that died at once: nothing to be done
		s.held = nil
	}
	s.dst = w
}

// resume makes w the destination again after a detach, giving it what was
// held as if it had just been typed (Enter and Ctrl-Z are noticed): it is
// the same claude, paused.
func (s *switchboard) resume(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.held
	s.held, s.dst = nil, w
	if len(held) > 0 {
		s.toClaudeLocked(held)
	}
}

// detach holds keystrokes until the next attach.
func (s *switchboard) detach() {
	s.mu.Lock()
	s.dst = nil
	s.mu.Unlock()
}

// capture keeps the keys for an offer until release, and returns the
// channel that says some are waiting (take them with takeKeys).
func (s *switchboard) capture() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keysReady == nil {
		s.keysReady = make(chan struct{}, 1)
	}
	s.offering, s.offerSince = true, time.Now()
	s.offerKeys, s.offerBytes = nil, 0
	select {
	case <-s.keysReady: // a stale word from an earlier offer
	default:
	}
	return s.keysReady
}

// rearm restarts OfferArming for an offer shown again (after a stop).
func (s *switchboard) rearm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offerSince = time.Now()
}

// takeKeys returns the keys read for the offer since the last call.
func (s *switchboard) takeKeys() []offerKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.offerKeys
	s.offerKeys, s.offerBytes = nil, 0
	return k
}

// forward gives p to claude while the offer keeps showing.
func (s *switchboard) forward(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.toClaudeLocked(p)
}

// release ends the offer: rest (keys the offer read but did not take as
// its answer), then keys read since, go to claude (or are held for the
// next one), in the order they were typed.
func (s *switchboard) release(rest []offerKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offering = false
	for _, k := range append(rest, s.offerKeys...) {
		s.toClaudeLocked(k.p)
	}
	s.offerKeys, s.offerBytes = nil, 0
}

// passiveInput reports whether p holds only what the terminal sends by
// itself, not keys the user typed: focus in and out and mouse reports,
// which Claude Code asks for, and replies to its queries (CSI ? … reports
// such as a colour-scheme change, OSC and DCS strings), none of which a
// key produces. They go to claude and leave an offer showing.
func passiveInput(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	for len(p) > 0 {
		n := reportLen(p)
		if n == 0 {
			return false
		}
		p = p[n:]
	}
	return true
}

// reportLen is the length of the terminal report at the start of p, or 0.
func reportLen(p []byte) int {
	switch {
	case bytes.HasPrefix(p, []byte("\x1b[I")), bytes.HasPrefix(p, []byte("\x1b[O")):
		return 3
	case bytes.HasPrefix(p, []byte("\x1b[M")): // X10 mouse: ESC [ M b x y
		if len(p) >= 6 {
			return 6
		}
	case bytes.HasPrefix(p, []byte("\x1b[<")), bytes.HasPrefix(p, []byte("\x1b[?")):
		// SGR mouse (ESC [ < b ; x ; y M|m) or a report (ESC [ ? … final)
		i := 3
		for i < len(p) && p[i] >= 0x20 && p[i] <= 0x3f {
			i++
		}
		for i < len(p) && p[i] >= 0x20 && p[i] <= 0x2f { // intermediates, as in $y
			i++
		}
		if i < len(p) && p[i] >= 0x40 && p[i] <= 0x7e {
			return i + 1
		}
	case bytes.HasPrefix(p, []byte("\x1b]")), bytes.HasPrefix(p, []byte("\x1bP")):
		// an OSC or DCS string, ended by BEL or ST
		for i := 2; i < len(p); i++ {
			if p[i] == 0x07 {
				return i + 1
			}
			if p[i] == 0x1b && i+1 < len(p) && p[i+1] == '\\' {
				return i + 2
			}
		}
	}
	return 0
}
