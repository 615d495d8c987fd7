package launcher

import (
	"bytes"
	"fmt"
	"strconv"
)

// modeTracker follows the terminal modes claude switches on — the alternate
// screen, mouse tracking, bracketed paste, focus events, a hidden cursor, the
// kitty keyboard protocol — so that a claude that dies without switching
// them off (killed, crashed) does not leave the user's shell with a broken
// terminal. A claude that exits normally switches them off itself, and then
// the launcher writes nothing.
type modeTracker struct {
	on      map[int]bool // DEC private modes set (for 25, the cursor, "on" means hidden)
	kitty   int          // kitty keyboard flags pushed and not popped
	pending []byte       // an escape sequence cut by the end of a read
}

// The DEC private modes a TUI switches on and a shell expects off.
var trackedModes = []int{1000, 1002, 1003, 1004, 1005, 1006, 1015, 2004, 25, 1049, 1047, 47}

// maxSeq bounds how much of an unfinished escape sequence is kept between reads.
const maxSeq = 64

// Write scans p for mode changes. It never fails.
func (t *modeTracker) Write(p []byte) (int, error) {
	n := len(p)
	if len(t.pending) > 0 {
		need := maxSeq - len(t.pending)
		if need > len(p) {
			need = len(p)
		}
		joined := append(t.pending, p[:need]...)
		t.pending = nil
		used := t.scan(joined, true)
		if used > len(joined)-need {
			p = p[used-(len(joined)-need):]
		}
	}
	t.scan(p, false)
	return n, nil
}

// scan looks at every ESC in p. With head set it only parses a sequence
// starting at p[0] and returns how many bytes it used.
func (t *modeTracker) scan(p []byte, head bool) int {
	i := 0
	for {
		j := bytes.IndexByte(p[i:], 0x1b)
		if j < 0 || (head && i+j > 0) {
			return len(p)
		}
		i += j
		end, complete := t.parse(p[i:])
		if !complete {
			if len(p)-i < maxSeq && !head {
				t.pending = append(t.pending[:0], p[i:]...)
			}
			return len(p)
		}
		i += end
		if head {
			return i
		}
	}
}

// parse reads one escape sequence at the start of p (p[0] is ESC). It
// returns its length, and false when p ends before the sequence does.
func (t *modeTracker) parse(p []byte) (int, bool) {
	if len(p) < 2 {
		return len(p), false
	}
	if p[1] != '[' {
		return 1, true
	}
	// CSI: parameters and intermediates 0x20-0x3f, final byte 0x40-0x7e.
	k := 2
	for k < len(p) && p[k] >= 0x20 && p[k] <= 0x3f {
		k++
	}
	if k == len(p) {
		return len(p), false
	}
	final := p[k]
	params := p[2:k]
	switch {
	case len(params) > 0 && params[0] == '?' && (final == 'h' || final == 'l'):
		for _, f := range bytes.Split(params[1:], []byte(";")) {
			m, err := strconv.Atoi(string(f))
			if err != nil {
				continue
			}
			set := final == 'h'
			if m == 25 {
				set = !set // ?25l hides the cursor: that is the state to undo
			}
			if t.on == nil {
				t.on = map[int]bool{}
			}
			t.on[m] = set
		}
	case final == 'u' && len(params) > 0 && params[0] == '>':
		t.kitty++
	case final == 'u' && len(params) > 0 && params[0] == '<':
		n := 1
		if v, err := strconv.Atoi(string(params[1:])); err == nil {
			n = v
		}
		t.kitty -= n
		if t.kitty < 0 {
			t.kitty = 0
		}
	}
	return k + 1, true
}

// resetSequence returns the bytes that switch off what claude left on, or
// nothing when it left the terminal as it found it.
func (t *modeTracker) resetSequence() []byte {
	var b bytes.Buffer
	for _, m := range trackedModes {
		if !t.on[m] {
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
