package launcher

import (
	"bytes"
	"io"
	"sync"
)

// switchboard routes the user's keystrokes: to the current claude, to an
// offer while one is showing, or into a bounded holding buffer while one
// claude is being replaced by the next. One goroutine reads stdin for the
// whole run (a blocked Read cannot be cancelled, so a reader per claude
// would steal keystrokes), and every byte read goes to exactly one place.
type switchboard struct {
	mu      sync.Mutex
	dst     io.Writer   // the current claude's PTY, or nil between sessions
	held    []byte      // typed between sessions
	offer   chan []byte // while an offer shows, keys go here
	onEnter func()      // told when Enter goes to claude
	onCtrlZ func()      // told when Ctrl-Z goes to claude
}

// kittyCtrlZ is Ctrl-Z as a terminal sends it under the kitty keyboard
// protocol, which Claude Code switches on where the terminal has it.
var kittyCtrlZ = []byte("\x1b[122;5u")

// kittyEnter is Enter under the kitty keyboard protocol.
var kittyEnter = []byte("\x1b[13u")

// maxHeld bounds what is kept of typing between two sessions.
const maxHeld = 64 * 1024

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
	case s.offer != nil:
		select {
		case s.offer <- append([]byte(nil), p...):
		default: // the offer has not read the last key yet; a key typed this fast is not an answer
		}
	case s.dst != nil:
		if s.onEnter != nil && (bytes.IndexByte(p, '\r') >= 0 || bytes.IndexByte(p, '\n') >= 0 || bytes.Contains(p, kittyEnter)) {
			s.onEnter()
		}
		if s.onCtrlZ != nil && (bytes.IndexByte(p, 0x1a) >= 0 || bytes.Contains(p, kittyCtrlZ)) {
			s.onCtrlZ()
		}
		_, _ = s.dst.Write(p) // claude gone: the keystroke has nowhere to go
	default:
		if len(s.held)+len(p) <= maxHeld {
			s.held = append(s.held, p...)
		}
	}
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

// detach holds keystrokes until the next attach.
func (s *switchboard) detach() {
	s.mu.Lock()
	s.dst = nil
	s.mu.Unlock()
}

// capture sends keys to ch until release.
func (s *switchboard) capture(ch chan []byte) {
	s.mu.Lock()
	s.offer = ch
	s.mu.Unlock()
}

func (s *switchboard) release() {
	s.mu.Lock()
	s.offer = nil
	s.mu.Unlock()
}
