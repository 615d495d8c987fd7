package launcher

import (
	"bytes"
	"fmt"
)

// modeTracker follows the terminal modes claude switches on — the alternate
// screen, mouse tracking, bracketed paste, focus events, a hidden cursor, the
// kitty keyboard protocol — so that a claude that dies without switching
// them off (killed, crashed) does not leave the user's shell with a broken
// terminal. A claude that exits normally switches them off itself, and then
// the launcher writes nothing.
type modeTracker struct {
	on    [len(trackedModes)]bool // per trackedModes: set (for 25, the cursor, "on" means hidden)
	kitty int                     // kitty keyboard flags pushed and not popped

	// The parser's state survives between writes: an escape sequence may be
	// cut anywhere by the end of a read.
	state  int // ground, sawEsc or inCSI
	params [maxSeq]byte
	n      int  // bytes in params
	over   bool // params overflowed: the sequence is not one we track
}

// The DEC private modes a TUI switches on and a shell expects off, in the
// order they are switched off (the alternate screen last).
var trackedModes = [...]int{1000, 1002, 1003, 1004, 1005, 1006, 1015, 2004, 25, 1049, 1047, 47}

// maxSeq bounds the parameter bytes kept of one escape sequence.
const maxSeq = 32

const (
	ground = iota
	sawEsc
	inCSI
)

// Write scans p for mode changes. It never fails and keeps O(1) state.
func (t *modeTracker) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		switch t.state {
		case ground:
			j := bytes.IndexByte(p[i:], 0x1b)
			if j < 0 {
				return len(p), nil
			}
			i += j
			t.state = sawEsc
		case sawEsc:
			if p[i] == '[' {
				t.state, t.n, t.over = inCSI, 0, false
			} else if p[i] != 0x1b {
				t.state = ground
			}
		case inCSI:
			// Parameter bytes in a tight loop; only the sequences that can
			// change a tracked mode (CSI ? … h/l, CSI > … u, CSI < … u)
			// are kept, the rest (colours, cursor moves) only skipped.
			for ; i < len(p) && p[i] >= 0x20 && p[i] <= 0x3f; i++ {
				if t.n == 0 && p[i] != '?' && p[i] != '>' && p[i] != '<' {
					t.over = true
				}
				if t.over {
					continue
				}
				if t.n == len(t.params) {
					t.over = true
					continue
				}
				t.params[t.n] = p[i]
				t.n++
			}
			if i == len(p) {
				return len(p), nil
			}
			switch c := p[i]; {
			case c >= 0x40 && c <= 0x7e:
				if !t.over {
					t.csi(t.params[:t.n], c)
				}
				t.state = ground
			case c == 0x1b:
				t.state = sawEsc
			}
		}
	}
	return len(p), nil
}

// csi records the effect of one complete CSI sequence. It allocates
// nothing: Claude Code sends CSI ? 2026 h/l around every frame.
func (t *modeTracker) csi(params []byte, final byte) {
	switch {
	case len(params) > 0 && params[0] == '?' && (final == 'h' || final == 'l'):
		for rest := params[1:]; len(rest) > 0; {
			m, n := atoi(rest)
			rest = rest[n:]
			if len(rest) > 0 {
				rest = rest[1:] // the ';' (or a byte that ends the number anyway)
			}
			if n == 0 || !tracked(m) {
				continue
			}
			set := final == 'h'
			if m == 25 {
				set = !set // ?25l hides the cursor: that is the state to undo
			}
			t.set(m, set)
		}
	case final == 'u' && len(params) > 0 && params[0] == '>':
		t.kitty++
	case final == 'u' && len(params) > 0 && params[0] == '<':
		n := 1
		if v, used := atoi(params[1:]); used > 0 && used == len(params)-1 {
			n = v
		}
		t.kitty = max(t.kitty-n, 0)
	}
}

// atoi reads a decimal number at the start of b: its value and length.
func atoi(b []byte) (v, n int) {
	for n < len(b) && n < 9 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int(b[n]-'0')
		n++
	}
	return v, n
}

func tracked(m int) bool {
	for _, x := range trackedModes {
		if x == m {
			return true
		}
	}
	return false
}

// set records mode m as set or not.
func (t *modeTracker) set(m int, on bool) {
	for i, x := range trackedModes {
		if x == m {
			t.on[i] = on
		}
	}
}

// atGround reports whether the output so far ends outside any escape
// sequence, so that the launcher may write its own without cutting one.
func (t *modeTracker) atGround() bool { return t.state == ground }

// resetSequence returns the bytes that switch off what claude left on, or
// nothing when it left the terminal as it found it.
func (t *modeTracker) resetSequence() []byte {
	var b bytes.Buffer
	for i, m := range trackedModes {
		if !t.on[i] {
			continue
		}
		if m == 25 {
			b.WriteString("\x1b[?25h")
			continue
		}
		fmt.Fprintf(&b, "\x1b[?%dl", m)
	}
	if t.kitty > 0 {
		fmt.Fprintf(&b, "\x1b[<%du", t.kitty)
	}
	return b.Bytes()
}

// setSequence returns the bytes that switch on again what resetSequence
// switched off, for a claude continued after a stop.
func (t *modeTracker) setSequence() []byte {
	var b bytes.Buffer
	for i := len(trackedModes) - 1; i >= 0; i-- { // the alternate screen first
		m := trackedModes[i]
		if !t.on[i] {
			continue
		}
		if m == 25 {
			b.WriteString("\x1b[?25l")
			continue
		}
		fmt.Fprintf(&b, "\x1b[?%dh", m)
	}
	for i := 0; i < t.kitty; i++ {
		b.WriteString("\x1b[>1u") // the flags pushed are not kept; 1 (disambiguate) is what TUIs push
	}
	return b.Bytes()
}
