package launcher

import (
	"bytes"
	"fmt"
)

// modeTracker follows the terminal modes claude switches on — the alternate
// screen, mouse tracking, bracketed paste, focus events, colour-scheme
// reports, a hidden cursor, the kitty keyboard protocol, xterm's
// modifyOtherKeys — so that a claude that dies without switching them off
// (killed, crashed) does not leave the user's shell with a broken
// terminal. A claude that exits normally switches them off itself, and
// then the launcher writes nothing.
type modeTracker struct {
	on    [len(trackedModes)]bool // per trackedModes: set (for 25, the cursor, "on" means hidden)
	kitty int                     // kitty keyboard flags pushed and not popped

	// otherKeys is xterm's modifyOtherKeys level (CSI > 4 ; Pv m), 0 when
	// off: at 1 or 2 the terminal sends Ctrl-keys as CSI sequences that a
	// shell does not read.
	otherKeys int

	// The parser's state survives between writes: an escape sequence may be
	// cut anywhere by the end of a read.
	state  int // ground, sawEsc or inCSI
	params [maxSeq]byte
	n      int  // bytes in params
	over   bool // params overflowed: the sequence is not one we track
}

// The DEC private modes a TUI switches on and a shell expects off, in the
// order they are switched off (the alternate screen last).
var trackedModes = [...]int{1000, 1002, 1003, 1004, 1005, 1006, 1015, 2004, 2031, 25, 1049, 1047, 47}

// maxSeq bounds the parameter bytes kept of one escape sequence.
const maxSeq = 32

const (
	ground = iota
	sawEsc
	inCSI
)

// Write scans p for mode changes. It never fails and keeps O(1) state.
//
// Only CSI sequences with a private marker (ESC [ ?, ESC [ >, ESC [ <) can
// change a tracked mode, and every ESC starts a new sequence whatever came
// before it, so inside p each "ESC [ marker" starts one such sequence and
// the last ESC ends whatever is still open before it. Write finds those
// with byte searches for the three markers, which are rare in a TUI's
// output, instead of parsing every colour and cursor move (one every 12
// bytes in Claude Code's output); the state machine reads only the head of
// p, which may continue a sequence cut by the last read, and its tail from
// the last ESC on.
func (t *modeTracker) Write(p []byte) (int, error) {
	first := bytes.IndexByte(p, 0x1b)
	if first < 0 {
		t.scan(p)
		return len(p), nil
	}
	t.scan(p[:first])
	last := bytes.LastIndexByte(p, 0x1b)
	t.private(p[first:last])
	t.state = ground
	t.scan(p[last:])
	return len(p), nil
}

// private runs the private-marker CSI sequences in q, which starts with an
// ESC and is followed by one: no sequence begun in q goes on past its end.
func (t *modeTracker) private(q []byte) {
	markers := [3]byte{'?', '>', '<'}
	var next [3]int // where each marker is next found; len(q) for nowhere
	find := func(k, from int) {
		next[k] = len(q)
		if j := bytes.IndexByte(q[from:], markers[k]); j >= 0 {
			next[k] = from + j
		}
	}
	for k := range markers {
		find(k, 0)
	}
	for {
		k := 0
		for i := 1; i < len(next); i++ {
			if next[i] < next[k] {
				k = i
			}
		}
		m := next[k]
		if m == len(q) {
			return
		}
		if opensCSI(q, m) {
			t.n, t.over = 0, false
			t.sequence(q[m:])
		}
		find(k, m+1)
	}
}

// opensCSI reports whether the marker at q[m] is the first parameter byte
// of a CSI sequence: "ESC [" before it, with nothing between but bytes the
// state machine passes over inside a sequence (controls other than ESC,
// DEL and above).
func opensCSI(q []byte, m int) bool {
	k := m - 1
	for k >= 0 && (q[k] < 0x20 && q[k] != 0x1b || q[k] >= 0x7f) {
		k--
	}
	return k >= 1 && q[k] == '[' && q[k-1] == 0x1b
}

// sequence reads the parameters and final byte of a CSI sequence from p,
// its first parameter byte on, and runs it: the rest of the sequence is
// then ignored; an ESC or the end of p abandons it. As in a terminal,
// other control bytes inside the sequence do not end it.
func (t *modeTracker) sequence(p []byte) {
	// Nearly every one is the marker, digits and semicolons, then the final
	// byte (CSI ? 2026 h around each frame): run it from p as it stands.
	i := 1
	for i < len(p) && i <= maxSeq && (p[i]-'0' <= 9 || p[i] == ';') {
		i++
	}
	if i < len(p) && i <= maxSeq && p[i] >= 0x40 && p[i] <= 0x7e {
		t.csi(p[:i], p[i])
		return
	}
	for _, c := range p {
		switch {
		case c >= 0x20 && c <= 0x3f:
			t.param(c)
		case c >= 0x40 && c <= 0x7e:
			if !t.over {
				t.csi(t.params[:t.n], c)
			}
			return
		case c == 0x1b:
			return
		}
	}
}

// param keeps parameter byte c of the open CSI sequence while it can be one
// that changes a tracked mode (CSI ? … h/l, CSI > … u, CSI < … u,
// CSI > … m); the rest (colours, cursor moves) are only skipped.
func (t *modeTracker) param(c byte) {
	switch {
	case t.over:
	case t.n == 0 && c != '?' && c != '>' && c != '<', t.n == len(t.params):
		t.over = true
	default:
		t.params[t.n] = c
		t.n++
	}
}

// scan is the byte-at-a-time state machine, for the parts of a write that
// may continue a sequence from the write before or go on into the next.
func (t *modeTracker) scan(p []byte) {
	for i := 0; i < len(p); i++ {
		switch t.state {
		case ground:
			j := bytes.IndexByte(p[i:], 0x1b)
			if j < 0 {
				return
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
			for ; i < len(p) && p[i] >= 0x20 && p[i] <= 0x3f; i++ {
				t.param(p[i])
			}
			if i == len(p) {
				return
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
			i := modeIndex(m)
			if n == 0 || i < 0 {
				continue
			}
			set := final == 'h'
			if m == 25 {
				set = !set // ?25l hides the cursor: that is the state to undo
			}
			t.on[i] = set
		}
	case final == 'm' && len(params) > 0 && params[0] == '>':
		t.keyModifiers(params[1:])
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

// keyModifiers runs xterm's CSI > Pp ; Pv m (XTMODKEYS), params after the
// '>': Pp 4 is modifyOtherKeys, at level Pv; no Pv resets it to the
// terminal's initial value, and no Pp at all resets every option. The
// initial value is taken for off, so resetSequence writes nothing for it.
func (t *modeTracker) keyModifiers(params []byte) {
	pp, n := atoi(params)
	switch {
	case len(params) == 0:
		t.otherKeys = 0
	case n == 0 || pp != 4: // another option (modifyCursorKeys …): not tracked
	case n == len(params):
		t.otherKeys = 0
	default:
		t.otherKeys, _ = atoi(params[n+1:]) // after the ';': no digits is 0, a reset
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

// modeIndex is m's index in trackedModes, or -1 when it is not tracked.
// A switch, not a search of the list: CSI ? 2026 h/l, which is not
// tracked, comes twice with every frame.
func modeIndex(m int) int {
	switch m {
	case 1000:
		return 0
	case 1002:
		return 1
	case 1003:
		return 2
	case 1004:
		return 3
	case 1005:
		return 4
	case 1006:
		return 5
	case 1015:
		return 6
	case 2004:
		return 7
	case 2031:
		return 8
	case 25:
		return 9
	case 1049:
		return 10
	case 1047:
		return 11
	case 47:
		return 12
	}
	return -1
}

// atGround reports whether the output so far ends outside any escape
// sequence, so that the launcher may write its own without cutting one.
func (t *modeTracker) atGround() bool { return t.state == ground }

// resetSequence returns the bytes that switch off what claude left on, or
// nothing when it left the terminal as it found it.
func (t *modeTracker) resetSequence() []byte {
	var b bytes.Buffer
	// The keyboard first: kitty keeps a stack of keyboard flags for each
	// screen, and Claude Code pushes on the alternate one, which the
	// modes below leave last.
	if t.kitty > 0 {
		fmt.Fprintf(&b, "\x1b[<%du", t.kitty)
	}
	if t.otherKeys != 0 {
		b.WriteString("\x1b[>4m") // back to the terminal's own setting, as Claude Code leaves it
	}
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
	if t.otherKeys != 0 {
		fmt.Fprintf(&b, "\x1b[>4;%dm", t.otherKeys)
	}
	return b.Bytes()
}
