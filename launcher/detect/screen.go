package detect

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Cell values other than printable ASCII. The detector only needs to read
// ASCII words, so every other character is stored as one placeholder byte per
// column it occupies; that keeps a cell one byte and the screen a flat array.
const (
	cellBlank    = ' '  // an empty or erased cell
	cellOther    = 0x80 // any non-ASCII character (or half of a wide one)
	cellEllipsis = 0x81 // "…": Claude Code marks a line it truncated with it
)

// Limits that keep the screen's memory fixed whatever the terminal claims.
const (
	maxCols     = 1024
	maxRows     = 512
	defaultCols = 80
	defaultRows = 24
	maxParams   = 16
)

// Parser states of the escape-sequence machine.
const (
	stGround = iota
	stEsc    // after ESC
	stEscSkip
	stCSI
	stOSC    // operating system command: skipped up to BEL or ST
	stOSCEsc // ESC seen inside a string: ST if followed by '\'
	stStr    // DCS, SOS, PM, APC: skipped up to ST
	stStrEsc
	stUTF8 // in the middle of a multi-byte UTF-8 character
)

// screen is a minimal terminal emulator: a grid of one-byte cells, a cursor,
// the scroll region, and just enough of ECMA-48 / xterm to put characters
// where a real terminal would. It never allocates after construction except
// on resize.
type screen struct {
	cols, rows int
	lines      [][]byte   // rows × cols cells: a window on ringLines
	meta       []rowState // the rows' state: a window on ringMeta
	blank      []byte     // cols blanks, to erase with copy

	// The rows live in rings twice the screen's height so that scrolling
	// the whole screen, the common case in bulk output, moves a window
	// instead of every row.
	ringLines [][]byte
	ringMeta  []rowState
	base      int
	dirtyLo   int // smallest dirty row, rows if none
	dirtyHi   int // largest dirty row, -1 if none

	x, y        int
	wrapPending bool // cursor sits past the last column (xterm's "wrapnext")
	noAutowrap  bool
	top, bot    int // scroll region, inclusive
	savedX      int
	savedY      int
	lastPrinted byte  // for REP
	newlineIsCR bool  // plain (pipe) output: LF also returns the carriage
	scrolled    int64 // rows scrolled off the top
	watchRow    int   // see erase; -1 for none
	onClear     func(row int)
	onHome      func()
	// onLineFeed, set for plain output, reads each line as its line
	// feed arrives; quiet then tells skipLines how far into text, whole
	// lines of printable ASCII and tabs that each fit in a row, it would
	// find nothing in them, were they drawn from the start of blank rows.
	onLineFeed func(row int)
	quiet      func(text []byte) int
	// endedMidFrame: the last write ended inside a sequence, or while
	// the cursor's row was being drawn: after text, or a move along the
	// row. A renderer leaves a row finished with a move to another row
	// (Claude Code parks the cursor with CUP in fullscreen mode, with
	// CUU in the classic one); until then the cursor's row may be half
	// drawn.
	endedMidFrame bool
	parked        bool // the last move was to another row
	noSkipBefore  int  // skipping lines already failed on p up to here

	st     int
	params [maxParams]int
	nparam int
	// paramsFull: a CSI read byte by byte has more than maxParams
	// parameters; the rest are dropped.
	paramsFull bool
	private    byte // CSI private marker ('?', '>', '<', '=') or 0
	inter      byte // CSI intermediate byte or 0
	utf        [4]byte
	nutf       int
	needUTF    int
}

// rowState is what the screen knows about a row besides its cells.
type rowState struct {
	blank   bool // holds only blanks (false if unknown)
	dirty   bool // written since the detector last read it
	wrapped bool // continued onto the next row by autowrap
	// The detector reads a row's words from its columns that changed
	// (see Detector.rowWords): lo..hi-1 bounds the columns where ASCII
	// was written, or cells moved, since it last looked (none if lo >=
	// hi), and words is what it noted then. Nothing else can make a word:
	// erasing writes blanks, other characters a placeholder.
	words  bool
	lo, hi int16
}

// blankRow is the state of a row that was cleared and not written since.
var blankRow = rowState{blank: true, lo: maxCols}

func newScreen(cols, rows int) *screen {
	s := &screen{watchRow: -1}
	s.resize(cols, rows)
	return s
}

// resize sets the size, keeping what fits (a real terminal reflows or
// clears; Claude Code redraws after SIGWINCH anyway).
func (s *screen) resize(cols, rows int) {
	if cols <= 0 {
		cols = defaultCols
	}
	if rows <= 0 {
		rows = defaultRows
	}
	cols = min(cols, maxCols)
	rows = min(rows, maxRows)
	if cols == s.cols && rows == s.rows {
		return
	}
	cells := make([]byte, cols*rows)
	cells[0] = cellBlank
	for i := 1; i < len(cells); i *= 2 {
		copy(cells[i:], cells[:i])
	}
	// The blank row, before the old rows are copied over the cells.
	s.blank = make([]byte, cols)
	copy(s.blank, cells[:cols])
	ring := make([][]byte, 2*rows)
	meta := make([]rowState, 2*rows)
	for r := range rows {
		ring[r] = cells[r*cols : (r+1)*cols : (r+1)*cols]
		meta[r] = blankRow
		if r < len(s.lines) {
			copy(ring[r], s.lines[r])
			meta[r] = rowState{hi: int16(cols)} // read it all again
		}
	}
	s.ringLines = ring
	s.ringMeta = meta
	s.base = 0
	s.lines = ring[:rows]
	s.meta = meta[:rows]
	s.cols, s.rows = cols, rows
	s.dirtyLo, s.dirtyHi = rows, -1
	s.top, s.bot = 0, rows-1
	s.x = min(s.x, cols-1)
	s.y = min(s.y, rows-1)
	s.savedX = min(s.savedX, cols-1)
	s.savedY = min(s.savedY, rows-1)
	s.wrapPending = false
}

// reset clears the screen and parser as a fresh terminal would be.
func (s *screen) reset() {
	for r := range s.lines {
		s.clearRow(r)
	}
	s.dirtyLo, s.dirtyHi = s.rows, -1
	s.x, s.y, s.savedX, s.savedY = 0, 0, 0, 0
	s.top, s.bot = 0, s.rows-1
	s.wrapPending, s.noAutowrap = false, false
	s.st, s.nutf = stGround, 0
	s.endedMidFrame, s.parked = false, false
}

func (s *screen) markDirty(r int) {
	if m := &s.meta[r]; !m.dirty {
		m.dirty = true
		m.blank = false // see clearRow
		s.dirtyLo = min(s.dirtyLo, r)
		s.dirtyHi = max(s.dirtyHi, r)
	}
}

// markText marks row r dirty and columns from..to-1 as holding new ASCII.
func (s *screen) markText(r, from, to int) {
	s.moved(r, from, to)
	s.markDirty(r)
}

// moved notes that columns from..to-1 of row r may hold ASCII they did not
// hold before.
func (s *screen) moved(r, from, to int) {
	m := &s.meta[r]
	m.lo = min(m.lo, int16(from))
	m.hi = max(m.hi, int16(to))
}

// clearRow blanks row r and forgets its state. The dirty range is the
// caller's to keep. A row cleared and not marked dirty since (every write of
// a character does) is left as it is: screens are cleared often, and
// mostly already blank.
func (s *screen) clearRow(r int) {
	if s.meta[r] != blankRow {
		copy(s.lines[r], s.blank)
		s.meta[r] = blankRow
	}
}

func (s *screen) clearCells(r, from, to int) {
	from = max(from, 0)
	to = min(to, s.cols)
	if from < to {
		copy(s.lines[r][from:to], s.blank)
	}
}

// erase blanks cells of row r. Only on the watched row is that news (the
// retrying line going away); elsewhere an erased row has nothing to read.
func (s *screen) erase(r, from, to int) {
	s.clearCells(r, from, to)
	if r == s.watchRow {
		s.markDirty(r)
	}
}

// nonPrintable sets the high bit of each byte of v that is not printable
// ASCII (0x20..0x7e). The lowest one set is exact; a borrow or carry from it
// may set some above.
func nonPrintable(v uint64) uint64 {
	return ((v-lowBits*0x20)&^v | (v + lowBits) | v) & highBits
}

// printableRun returns how many leading bytes of p are printable ASCII. It
// looks at eight bytes at a time: most terminal output is runs of plain text
// between short escape sequences.
func printableRun(p []byte) int {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		if bad := nonPrintable(binary.LittleEndian.Uint64(p[i:])); bad != 0 {
			return i + bits.TrailingZeros64(bad)/8
		}
	}
	for ; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c > 0x7e {
			break
		}
	}
	return i
}

// write feeds terminal output through the emulator. The common shapes —
// runs of printable ASCII, whole CSI sequences, whole UTF-8 characters —
// are handled in place; anything split across writes or unusual goes
// through step, the byte-at-a-time state machine.
func (s *screen) write(p []byte) {
	i := 0
	for i < len(p) && s.st != stGround {
		i = s.step(p, i)
	}
	for i < len(p) {
		c := p[i]
		switch {
		case c == 0x1b:
			if j := s.csiWhole(p, i); j > i {
				i = j
				continue
			}
		case c == '\r': // as control does; Claude Code ends most rows with it
			s.x, s.wrapPending, s.parked = 0, false, false
			i++
			continue
		case c >= 0x20 && c < 0x7f:
			i = s.putText(p, i)
			continue
		case c >= 0xe0 && c < 0xf0 && i+2 < len(p) && p[i+1]&0xc0 == 0x80 && p[i+2]&0xc0 == 0x80 && (c > 0xe0 || p[i+1] >= 0xa0):
			// Three-byte characters: box drawing, "…", "❯", spinners.
			// (An overlong form, E0 below A0, is malformed: step shows
			// it as the decoder does.)
			r := rune(c&0x0f)<<12 | rune(p[i+1]&0x3f)<<6 | rune(p[i+2]&0x3f)
			i += 3
			if !narrowSymbol(r) {
				s.putRune(r)
				continue
			}
			s.putNarrow()
			// A rule drawn with one character: fill cells directly while
			// the same character repeats on the same row.
			row := s.lines[s.y]
			for i+2 < len(p) && p[i] == c && p[i+1] == p[i-2] && p[i+2] == p[i-1] && !s.wrapPending && s.x < s.cols-1 {
				row[s.x] = cellOther
				s.x++
				i += 3
			}
			continue
		case c >= 0xc0 && c < 0xf8:
			if r, size := utf8.DecodeRune(p[i:]); size > 1 {
				s.putRune(r)
				i += size
				continue
			}
		case c == '\n' && i >= s.noSkipBefore:
			i = s.step(p, i)
			if s.onLineFeed != nil {
				i = s.skipLines(p, i)
			} else {
				i = s.skipScrolled(p, i)
			}
			continue
		}
		i = s.step(p, i)
		for i < len(p) && s.st != stGround {
			i = s.step(p, i)
		}
	}
	s.noSkipBefore = 0
	s.endedMidFrame = s.st != stGround || !s.parked
}

// putText writes the run of printable ASCII that starts at p[i] and returns
// where it ends. A run shorter than eight bytes that ends before the last
// column, the usual one between escape sequences, is merged into the row
// with one load and one store.
func (s *screen) putText(p []byte, i int) int {
	if i+8 <= len(p) && s.x+8 <= s.cols && !s.wrapPending {
		v := binary.LittleEndian.Uint64(p[i:])
		if bad := nonPrintable(v); bad != 0 {
			n := bits.TrailingZeros64(bad) / 8 // at least 1: p[i] is printable
			cells := s.lines[s.y][s.x:]
			keep := ^uint64(0) << (8 * n)
			binary.LittleEndian.PutUint64(cells, binary.LittleEndian.Uint64(cells)&keep|v&^keep)
			s.markText(s.y, s.x, s.x+n)
			s.x += n
			s.lastPrinted = p[i+n-1]
			s.parked = false
			return i + n
		}
	}
	n := printableRun(p[i:])
	s.putASCII(p[i : i+n])
	return i + n
}

// csiWhole runs the CSI sequence starting at p[i] (an ESC) if p holds all
// of it, and returns where it ends; else it returns i and leaves the
// sequence to step. It reads the bytes after "ESC [" eight at a time, so
// that the usual shapes (colours, at most two numbers, one DEC private
// mode) are told apart at once, and runs the cursor moves Claude Code sends
// most in place.
func (s *screen) csiWhole(p []byte, i int) int {
	if i+18 > len(p) || p[i+1] != '[' {
		return s.csiOther(p, i)
	}
	x := binary.LittleEndian.Uint64(p[i+2:]) ^ lowBits*'0'
	n := paramBytes(x)
	if n == 8 {
		// Colours such as "38;5;174m" take more.
		if n += paramBytes(binary.LittleEndian.Uint64(p[i+10:]) ^ lowBits*'0'); n == 16 {
			return s.csiOther(p, i)
		}
	}
	j := i + 2 + n // the final byte, if this is one
	final := p[j]
	switch {
	case final == 'm':
		return j + 1 // colours (SGR) move nothing
	case n > 7 || final < 0x40 || final > 0x7e:
		return s.csiOther(p, i) // intermediate bytes, or a control inside
	}
	k, a := leadingDigits(x)
	b, two := 0, false
	switch {
	case k == n:
	case p[i+2+k] == ';':
		var k2 int
		k2, b = leadingDigits(x >> (8 * (k + 1)))
		if k+1+k2 != n {
			return s.csiOther(p, i)
		}
		two = true
	case k == 0 && p[i+2] == '?' && (final == 'h' || final == 'l'):
		if k, a = leadingDigits(x >> 8); k+1 != n {
			return s.csiOther(p, i)
		}
		s.decMode(a, final == 'h')
		return j + 1
	default:
		return s.csiOther(p, i)
	}
	if k > 5 || two && n-k-1 > 5 {
		return s.csiOther(p, i) // numbers that csiBytes caps
	}
	switch final {
	case 'G':
		s.x = min(max(a, 1)-1, s.cols-1)
		s.parked = false
	case 'C':
		s.x = min(s.x+max(a, 1), s.cols-1)
		s.parked = false
	case 'B':
		s.y = min(s.y+max(a, 1), s.rows-1)
		s.parked = true
	case 'H':
		if a <= 1 && b <= 1 && s.onHome != nil {
			s.onHome() // see csi
		}
		s.y = min(max(a, 1)-1, s.rows-1)
		s.x = min(max(b, 1)-1, s.cols-1)
		s.parked = true
	default:
		// Absent and zero parameters read the same (see param).
		s.params[0], s.params[1], s.nparam = a, b, 2
		s.private, s.inter = 0, 0
		s.csi(final)
		return j + 1
	}
	s.wrapPending = false
	return j + 1
}

// paramBytes returns how many of the bytes of x, in memory order, are CSI
// parameter bytes (0x30..0x3f), x being the text xor '0' in each byte.
func paramBytes(x uint64) int {
	return bits.TrailingZeros64(((x+lowBits*0x70)|x)&highBits) / 8
}

// leadingDigits returns how many of the bytes of x, in memory order, are
// decimal digits (x is the text xor '0' in each byte, as in csiWhole) and
// the number they write.
func leadingDigits(x uint64) (n, value int) {
	n = bits.TrailingZeros64(((x+lowBits*0x76)|x)&highBits) / 8
	for k := range n {
		value = value*10 + int(x>>(8*k)&0xff)
	}
	return n, value
}

// csiOther runs a CSI sequence of any shape, if p holds all of it, as
// csiWhole does.
func (s *screen) csiOther(p []byte, i int) int {
	if i+1 == len(p) || p[i+1] != '[' {
		return i
	}
	j := i + 2
	for j < len(p) && p[j] >= 0x20 && p[j] < 0x40 {
		j++
	}
	if j == len(p) || p[j] < 0x40 || p[j] > 0x7e {
		return i // incomplete, or a control byte inside: step runs it
	}
	if p[j] != 'm' {
		s.csiBytes(p[i+2:j], p[j])
	}
	return j + 1
}

// csiBytes runs a complete CSI sequence: parameter and intermediate bytes,
// then its final byte.
func (s *screen) csiBytes(b []byte, final byte) {
	s.nparam, s.private, s.inter = 0, 0, 0
	s.params[0] = 0 // as escape does: "CSI ? h" is mode 0, not the last one set
	v, have := 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if v < 100000 {
				v = v*10 + int(c-'0')
			}
			have = true
		case c == ';' || c == ':':
			if s.nparam < maxParams {
				s.params[s.nparam] = v
				s.nparam++
			}
			v, have = 0, true
		case c >= '<' && c <= '?':
			s.private = c
		default:
			s.inter = c
		}
	}
	if have && s.nparam < maxParams {
		s.params[s.nparam] = v
		s.nparam++
	}
	s.csi(final)
}

// skipScrolled is a shortcut for bulk text, exact by construction. At i
// the cursor is at the start of the bottom row of a full-screen scroll
// region. If the text from i holds at least rows more CR LF-ended lines
// before any escape sequence that could move the cursor (colours may
// appear), then everything drawn before the last rows of those lines
// scrolls off the screen before the write ends, and the screen does not
// read what leaves it: only those last lines need drawing. It returns
// where to go on; when the shortcut does not apply, it notes the end of the
// segment so it is not tried again there.
func (s *screen) skipScrolled(p []byte, i int) int {
	if s.x != 0 || s.wrapPending || s.y != s.rows-1 || s.top != 0 || s.bot != s.rows-1 {
		return i
	}
	end := segmentEnd(p, i)
	s.noSkipBefore = end
	seg := p[i:end]
	if len(seg) < 4*s.rows {
		return i
	}
	k := len(seg)
	for n := 0; n <= s.rows; n++ {
		k = bytes.LastIndexByte(seg[:k], '\n')
		if k < 0 {
			return i
		}
	}
	// seg[k] is the LF before the last rows lines; it must end a CR LF so
	// the tail starts at column 0.
	if k < 1 || seg[k-1] != '\r' {
		return i
	}
	for r := range s.lines {
		s.clearRow(r)
	}
	s.dirtyLo, s.dirtyHi = s.rows, -1
	return i + k + 1
}

// skipLines is skipScrolled for plain output, whose every line is read as
// its line feed arrives. At i, right after a line feed, the cursor must be
// at the start of a blank bottom row of a full-screen scroll region, as a
// line feed that scrolled leaves it. Whole lines of printable ASCII and
// tabs from there, drawn, would each scroll away once rows more lines
// followed them, and those lines would draw the same screen whatever it
// showed before. So a line that fits in a row and that the reader would
// find nothing in (see quiet) need not be drawn while rows more lines
// follow before anything else. skipLines counts the rows such lines would
// have scrolled, notes their last character for REP, and returns where to
// go on.
func (s *screen) skipLines(p []byte, i int) int {
	last := s.rows - 1
	if s.x != 0 || s.wrapPending || s.y != last || s.top != 0 || s.bot != last || s.noAutowrap ||
		s.meta[last] != blankRow || last > 0 && s.meta[last-1].wrapped {
		return i
	}
	t := p[i:]
	end, wide := plainLines(t, s.cols, s.rows)
	if wide == len(t) {
		s.noSkipBefore = i + end // no line feed before end can do better
	}
	// The last rows whole lines of the text are drawn, and a line that
	// may wrap.
	n := end
	for range s.rows + 1 {
		if n = bytes.LastIndexByte(t[:n], '\n'); n < 0 {
			return i
		}
	}
	n = min(n+1, wide)
	if q := s.quiet(t[:n]); q < n {
		n = bytes.LastIndexByte(t[:q], '\n') + 1 // the line the reader may want is drawn
		// And so is the rest of this write: trying again at each later
		// line feed would read the same text again, and output full of
		// such lines would cost time quadratic in the write.
		s.noSkipBefore = len(p)
	}
	skip := t[:n]
	s.scrolled += int64(bytes.Count(skip, []byte{'\n'}))
	for j := len(skip) - 1; j >= 0; j-- {
		if c := skip[j]; c != '\n' && c != '\t' {
			s.lastPrinted = c
			break
		}
	}
	return i + n
}

// plainLines reads t, from the start of a line, eight bytes at a time up to
// the first byte that is not printable ASCII, a tab or a line feed, or to
// the last whole eight (end), and finds the first whole line that may be
// wider than cols and so wrap (wide, len(t) if none). Once it has found one
// it reads only rows more lines: end is then where it stopped.
func plainLines(t []byte, cols, rows int) (end, wide int) {
	// A character takes one column, a tab at most eight. width is at
	// least the columns of the line being read, counting whole words.
	start, width := 0, 0
	i, n := 0, 8
	var feed uint64
	for ; i+8 <= len(t); i += 8 {
		v := binary.LittleEndian.Uint64(t[i:])
		if nonPrintable(v) == 0 {
			width += 8 // eight characters, most words of text
			continue
		}
		var tab uint64
		tab, feed, n = plainWord(v)
		cells := n + 7*countHigh(tab)
		if feed == 0 {
			width += cells
		} else if width+cells > cols {
			break
		} else {
			// The lines after the first line feed of the word are
			// shorter than eight bytes: none is wide.
			start = i + (63-bits.LeadingZeros64(feed))/8 + 1
			width = cells
		}
		if n < 8 {
			return i + n, len(t)
		}
	}
	if i+8 > len(t) {
		return i, len(t)
	}
	// The line from start, which ends in this word, may wrap.
	for after := countHigh(feed) - 1; after < rows && n == 8; after += countHigh(feed) {
		if i += 8; i+8 > len(t) {
			return i, start
		}
		_, feed, n = plainWord(binary.LittleEndian.Uint64(t[i:]))
	}
	return i + n, start
}

// plainWord returns how many bytes of v, in memory order, come before the
// first that is not printable ASCII, a tab or a line feed, and which of
// those n are tabs and line feeds (high bits set).
func plainWord(v uint64) (tab, feed uint64, n int) {
	// Exact in every byte below the first that is not allowed (a byte
	// below 0x80 carries nothing into the next): v^c + 0x7f sets no high
	// bit just where the byte is c, (v|0x80) - 0x20 none where it is a
	// control character.
	tab = ^(v ^ lowBits*'\t' + lowBits*0x7f) & highBits
	feed = ^(v ^ lowBits*'\n' + lowBits*0x7f) & highBits
	control := ^((v | highBits) - lowBits*0x20) & highBits // also 0x80..0x9f
	bad := control&^(tab|feed) | (v+lowBits|v)&highBits
	n = bits.TrailingZeros64(bad) / 8 // 8 if none
	keep := uint64(1)<<(8*n) - 1
	return tab & keep, feed & keep, n
}

// countHigh returns how many bytes of m have their high bit set, m having
// no other bits set. (bits.OnesCount64 would need a check for the POPCNT
// instruction, and a call around which plainLines keeps nothing in
// registers.)
func countHigh(m uint64) int {
	return int((m >> 7) * lowBits >> 56)
}

// segmentEnd returns the index of the first escape sequence at or after i
// that is not a complete SGR (colour) sequence, or len(p).
func segmentEnd(p []byte, i int) int {
	for {
		k := bytes.IndexByte(p[i:], 0x1b)
		if k < 0 {
			return len(p)
		}
		j := i + k + 1
		if j >= len(p) || p[j] != '[' {
			return i + k
		}
		j++
		for j < len(p) && (p[j] >= '0' && p[j] <= '9' || p[j] == ';' || p[j] == ':') {
			j++
		}
		if j >= len(p) || p[j] != 'm' {
			return i + k
		}
		i = j + 1
	}
}

// step advances the state machine by one byte at p[i] (or over the body of
// a string sequence) and returns the index of the next unread byte.
func (s *screen) step(p []byte, i int) int {
	c := p[i]
	i++
	switch s.st {
	case stGround:
		if c < 0x20 || c == 0x7f {
			s.control(c)
			return i
		}
		if c < 0x80 {
			s.putASCII(p[i-1 : i])
			return i
		}
		// A UTF-8 lead byte split from the rest, or a stray byte.
		switch {
		case c&0xe0 == 0xc0:
			s.needUTF = 2
		case c&0xf0 == 0xe0:
			s.needUTF = 3
		case c&0xf8 == 0xf0:
			s.needUTF = 4
		default:
			s.putRune(utf8.RuneError)
			return i
		}
		s.utf[0] = c
		s.nutf = 1
		s.st = stUTF8
	case stUTF8:
		if c&0xc0 != 0x80 {
			// Malformed: show a replacement and read c again.
			s.st = stGround
			s.putRune(utf8.RuneError)
			return i - 1
		}
		s.utf[s.nutf] = c
		s.nutf++
		if s.nutf == s.needUTF {
			s.st = stGround
			r, _ := utf8.DecodeRune(s.utf[:s.nutf])
			s.putRune(r)
		}
	case stEsc:
		s.escape(c)
	case stEscSkip:
		s.st = stGround
	case stCSI:
		s.csiByte(c)
	case stOSC, stStr:
		// Skip the string body up to its terminator.
		j := i - 1
		for j < len(p) && p[j] != 0x07 && p[j] != 0x1b && p[j] != 0x18 && p[j] != 0x1a {
			j++
		}
		if j == len(p) {
			return j
		}
		switch p[j] {
		case 0x1b:
			if s.st == stOSC {
				s.st = stOSCEsc
			} else {
				s.st = stStrEsc
			}
		case 0x07:
			if s.st == stOSC {
				s.st = stGround
			}
		default: // CAN, SUB cancel the sequence
			s.st = stGround
		}
		return j + 1
	case stOSCEsc, stStrEsc:
		switch {
		case c == '\\':
			s.st = stGround
		case s.st == stOSCEsc:
			s.st = stOSC
		default:
			s.st = stStr
		}
	}
	return i
}

// putASCII writes a run of printable ASCII at the cursor.
func (s *screen) putASCII(run []byte) {
	s.parked = false
	s.lastPrinted = run[len(run)-1]
	for len(run) > 0 {
		if s.wrapPending {
			s.autowrap()
		}
		row := s.lines[s.y]
		n := copy(row[s.x:], run)
		s.markText(s.y, s.x, s.x+n)
		run = run[n:]
		s.x += n
		if s.x >= s.cols {
			s.x = s.cols - 1
			if s.noAutowrap {
				if len(run) > 0 {
					row[s.cols-1] = run[len(run)-1]
				}
				return
			}
			s.wrapPending = true
		}
	}
}

// narrowSymbol reports whether r is in the block of symbols, arrows, box
// drawing and dingbats that TUIs draw with (U+2065..U+2E7F), which all take
// one column and read as cellOther (see runeWidth and putRune).
func narrowSymbol(r rune) bool { return r >= 0x2065 && r < 0x2e80 }

// putNarrow writes a narrowSymbol: putRune's work, without its choices.
func (s *screen) putNarrow() {
	s.parked = false
	if s.wrapPending {
		s.autowrap()
	}
	s.lines[s.y][s.x] = cellOther
	s.markDirty(s.y)
	s.lastPrinted = cellOther
	if s.x++; s.x == s.cols {
		s.x = s.cols - 1
		if !s.noAutowrap {
			s.wrapPending = true
		}
	}
}

// putRune writes one non-ASCII character.
func (s *screen) putRune(r rune) {
	s.parked = false
	w := runeWidth(r)
	if w == 0 {
		return
	}
	cell := byte(cellOther)
	switch r {
	case '…':
		cell = cellEllipsis
	case 0xa0: // no-break space: Claude Code's prompt uses it after ❯
		cell = cellBlank
	}
	if s.wrapPending || (w == 2 && s.x == s.cols-1 && !s.noAutowrap) {
		s.autowrap()
	}
	row := s.lines[s.y]
	row[s.x] = cell
	if w == 2 && s.x+1 < s.cols {
		row[s.x+1] = cellOther
	}
	s.markDirty(s.y)
	s.lastPrinted = cell
	s.x += w
	if s.x >= s.cols {
		s.x = s.cols - 1
		if !s.noAutowrap {
			s.wrapPending = true
		}
	}
}

func (s *screen) autowrap() {
	s.wrapPending = false
	s.meta[s.y].wrapped = true
	s.x = 0
	s.index()
}

// index moves the cursor down one row, scrolling at the bottom margin.
func (s *screen) index() {
	switch {
	case s.y == s.bot:
		s.scrollUp(s.top, s.bot, 1)
	case s.y < s.rows-1:
		s.y++
	}
}

func (s *screen) reverseIndex() {
	switch {
	case s.y == s.top:
		s.scrollDown(s.top, s.bot, 1)
	case s.y > 0:
		s.y--
	}
}

// scrollUp moves rows top+n..bot up by n. What leaves the screen is not
// read: Claude Code's live lines (the spinner, the input box) never scroll
// away while they matter, and plain output is read line by line instead.
func (s *screen) scrollUp(top, bot, n int) {
	if top > bot {
		return
	}
	n = min(n, bot-top+1)
	if top == 0 && bot == s.rows-1 {
		s.scrolled += int64(n)
		for range n {
			s.scrollFull()
		}
		if s.dirtyHi >= 0 {
			s.dirtyLo = max(s.dirtyLo-n, 0)
			s.dirtyHi -= n
			if s.dirtyHi < 0 {
				s.dirtyLo = s.rows
			}
		}
		return
	}
	s.rotate(top, bot, n)
	for r := bot - n + 1; r <= bot; r++ {
		s.clearRow(r)
	}
	s.recomputeDirtyRange()
}

// rotate moves rows top..bot up by n, the first n becoming the last, in
// place: a scroll costs the same whatever n, with no allocation.
func (s *screen) rotate(top, bot, n int) {
	rev := func(a, b int) {
		for ; a < b; a, b = a+1, b-1 {
			s.lines[a], s.lines[b] = s.lines[b], s.lines[a]
			s.meta[a], s.meta[b] = s.meta[b], s.meta[a]
		}
	}
	rev(top, top+n-1)
	rev(top+n, bot)
	rev(top, bot)
}

// scrollFull scrolls the whole screen up one row by moving the window on
// the rings; every rows scrolls the window is moved back to the start.
func (s *screen) scrollFull() {
	gone, goneMeta := s.lines[0], s.meta[0]
	if s.base+s.rows == len(s.ringLines) {
		copy(s.ringLines, s.ringLines[s.base:])
		copy(s.ringMeta, s.ringMeta[s.base:])
		s.base = 0
	}
	s.base++
	s.lines = s.ringLines[s.base : s.base+s.rows]
	s.meta = s.ringMeta[s.base : s.base+s.rows]
	s.lines[s.rows-1], s.meta[s.rows-1] = gone, goneMeta
	s.clearRow(s.rows - 1)
}

func (s *screen) scrollDown(top, bot, n int) {
	if top > bot {
		return
	}
	n = min(n, bot-top+1)
	s.rotate(top, bot, bot-top+1-n)
	for r := top; r < top+n; r++ {
		s.clearRow(r)
	}
	s.recomputeDirtyRange()
}

func (s *screen) recomputeDirtyRange() {
	s.dirtyLo, s.dirtyHi = s.rows, -1
	for r, m := range s.meta {
		if m.dirty {
			s.dirtyLo = min(s.dirtyLo, r)
			s.dirtyHi = max(s.dirtyHi, r)
		}
	}
}

func (s *screen) control(c byte) {
	switch c {
	case '\r':
		s.parked = false
		s.x = 0
		s.wrapPending = false
	case '\n', 0x0b, 0x0c:
		s.parked = true
		row := s.y
		s.wrapPending = false
		if s.newlineIsCR {
			s.x = 0
		}
		if s.onLineFeed != nil {
			s.onLineFeed(row)
		}
		s.index()
	case '\b':
		s.parked = false
		if s.x > 0 {
			s.x--
		}
		s.wrapPending = false
	case '\t':
		s.parked = false
		s.x = min((s.x/8+1)*8, s.cols-1)
	case 0x1b:
		s.st = stEsc
	}
	// BEL, SO, SI, NUL and the rest change nothing on the grid.
}

func (s *screen) escape(c byte) {
	s.st = stGround
	switch c {
	case '[':
		s.st = stCSI
		s.nparam = 0
		s.params[0] = 0
		s.private = 0
		s.inter = 0
		s.paramsFull = false
	case ']':
		s.st = stOSC
	case 'P', 'X', '^', '_':
		s.st = stStr
	case '(', ')', '*', '+', '-', '.', '/', '#', '%', ' ':
		s.st = stEscSkip // one more byte names a charset or similar
	case '7':
		s.savedX, s.savedY = s.x, s.y
	case '8':
		s.x, s.y = s.savedX, s.savedY
		s.wrapPending = false
		s.parked = true
	case 'D':
		s.index()
		s.parked = true
	case 'E':
		s.x = 0
		s.index()
		s.parked = true
	case 'M':
		s.reverseIndex()
		s.parked = true
	case 'c':
		s.reset()
	case 0x1b:
		s.st = stEsc
	}
}

func (s *screen) csiByte(c byte) {
	switch {
	case c >= '0' && c <= '9':
		if s.nparam == 0 {
			s.nparam = 1
		}
		if s.paramsFull {
			break // a parameter past maxParams is dropped, as csiBytes does
		}
		if v := &s.params[s.nparam-1]; *v < 100000 {
			*v = *v*10 + int(c-'0')
		}
	case c == ';' || c == ':':
		if s.nparam == 0 {
			s.nparam = 1
		}
		if s.nparam < maxParams {
			s.params[s.nparam] = 0
			s.nparam++
		} else {
			s.paramsFull = true
		}
	case c >= '<' && c <= '?':
		s.private = c
	case c >= 0x20 && c <= 0x2f:
		s.inter = c
	case c >= 0x40 && c <= 0x7e:
		s.st = stGround
		s.csi(c)
	case c == 0x1b:
		s.st = stEsc
	case c == 0x18 || c == 0x1a:
		s.st = stGround
	default:
		// Other control bytes inside a CSI are executed, as xterm does.
		if c < 0x20 {
			s.control(c)
		}
	}
}

// param returns parameter i, or def when it is absent or zero.
func (s *screen) param(i, def int) int {
	if i >= s.nparam || s.params[i] == 0 {
		return def
	}
	return s.params[i]
}

func (s *screen) csi(final byte) {
	switch final {
	case 'H', 'f', 'A', 'B', 'E', 'F', 'd', 'e':
		s.parked = true
	case 'C', 'D', 'G', 'a', '`', 'b', '@', 'P', 'X':
		s.parked = false
	}
	if s.inter != 0 {
		return // e.g. DECSCUSR "CSI 2 SP q": no effect on cells
	}
	if s.private != 0 {
		if s.private == '?' && (final == 'h' || final == 'l') {
			for i := 0; i < max(s.nparam, 1); i++ {
				s.decMode(s.params[i], final == 'h')
			}
		}
		return
	}
	n := s.param(0, 1)
	switch final {
	case 'A':
		s.y = max(s.y-n, 0)
	case 'B', 'e':
		s.y = min(s.y+n, s.rows-1)
	case 'C', 'a':
		s.x = min(s.x+n, s.cols-1)
	case 'D':
		s.x = max(s.x-n, 0)
	case 'E':
		s.y = min(s.y+n, s.rows-1)
		s.x = 0
	case 'F':
		s.y = max(s.y-n, 0)
		s.x = 0
	case 'G', '`':
		s.x = min(n-1, s.cols-1)
	case 'd':
		s.y = min(n-1, s.rows-1)
	case 'H', 'f':
		if s.onHome != nil && s.param(0, 1) == 1 && s.param(1, 1) == 1 {
			// Claude Code starts each frame from home: the previous
			// frame is complete, read it before it is overwritten.
			s.onHome()
		}
		s.y = min(n-1, s.rows-1)
		s.x = min(s.param(1, 1)-1, s.cols-1)
	case 'J':
		s.eraseDisplay(s.param(0, 0))
	case 'K':
		switch s.param(0, 0) {
		case 0:
			s.erase(s.y, s.x, s.cols)
		case 1:
			s.erase(s.y, 0, s.x+1)
		case 2:
			s.erase(s.y, 0, s.cols)
		}
	case 'X':
		s.erase(s.y, s.x, s.x+n)
	case '@':
		row := s.lines[s.y]
		if s.x+n < s.cols {
			copy(row[s.x+n:], row[s.x:s.cols-n])
		}
		s.moved(s.y, s.x, s.cols)
		s.erase(s.y, s.x, s.x+n)
	case 'P':
		row := s.lines[s.y]
		if s.x+n < s.cols {
			copy(row[s.x:], row[s.x+n:])
		}
		s.moved(s.y, s.x, s.cols)
		s.erase(s.y, max(s.cols-n, s.x), s.cols)
	case 'L':
		if s.y >= s.top && s.y <= s.bot {
			s.scrollDown(s.y, s.bot, n)
		}
	case 'M':
		if s.y >= s.top && s.y <= s.bot {
			s.scrollUp(s.y, s.bot, n)
		}
	case 'S':
		s.scrollUp(s.top, s.bot, n)
	case 'T':
		s.scrollDown(s.top, s.bot, n)
	case 'b':
		// REP: at most one row's worth, so a few bytes of input can never
		// cost unbounded work (it draws runs within a line in practice).
		n = min(n, s.cols)
		if s.lastPrinted >= 0x20 && s.lastPrinted < 0x7f {
			var buf [64]byte
			for n > 0 {
				k := min(n, len(buf))
				for i := range k {
					buf[i] = s.lastPrinted
				}
				s.putASCII(buf[:k])
				n -= k
			}
		}
	case 'r':
		top := s.param(0, 1) - 1
		bot := s.param(1, s.rows) - 1
		if top < bot && bot < s.rows {
			s.top, s.bot = top, bot
		} else {
			s.top, s.bot = 0, s.rows-1
		}
		s.x, s.y = 0, 0
	case 's':
		s.savedX, s.savedY = s.x, s.y
	case 'u':
		s.x, s.y = s.savedX, s.savedY
	default:
		return // SGR and the rest move nothing
	}
	s.wrapPending = false
}

func (s *screen) eraseDisplay(mode int) {
	switch mode {
	case 0:
		s.erase(s.y, s.x, s.cols)
		for r := s.y + 1; r < s.rows; r++ {
			s.erase(r, 0, s.cols)
		}
	case 1:
		for r := 0; r < s.y; r++ {
			s.erase(r, 0, s.cols)
		}
		s.erase(s.y, 0, s.x+1)
	case 2, 3:
		s.clearAll()
	}
}

// clearAll erases every cell; text not yet scanned is scanned first so a
// frame drawn and cleared within one write is still seen.
func (s *screen) clearAll() {
	for r := range s.lines {
		if s.meta[r].dirty && s.onClear != nil {
			s.onClear(r)
		}
	}
	for r := range s.lines {
		s.clearRow(r)
	}
	s.dirtyLo, s.dirtyHi = s.rows, -1
}

func (s *screen) decMode(mode int, on bool) {
	switch mode {
	case 2026:
		// Synchronized output, on terminals that support it: Claude
		// Code brackets each frame with it.
		if on && s.onHome != nil {
			s.onHome() // a frame starts: the previous one is complete
		}
		if !on {
			s.parked = true // the frame is complete
		}
	case 7:
		s.noAutowrap = !on
	case 47, 1047, 1049:
		// The alternate screen starts blank; leaving it shows the main
		// screen again, which the detector has no need to remember.
		if mode == 1049 && on {
			s.savedX, s.savedY = s.x, s.y
		}
		s.clearAll()
		if mode == 1049 && !on {
			s.x, s.y = s.savedX, s.savedY
		}
	}
}

// runeWidth is the number of columns a character takes, close enough to
// wcwidth for Claude Code's output: zero for combining marks and joiners,
// two for East Asian wide characters and emoji, one otherwise.
func runeWidth(r rune) int {
	switch {
	case r < 0x300, narrowSymbol(r):
		return 1
	case r <= 0x36f, r >= 0x200b && r <= 0x200f, r >= 0x2028 && r <= 0x202e,
		r >= 0x2060 && r <= 0x2064, r >= 0xfe00 && r <= 0xfe0f, r == 0xfeff,
		r >= 0xe0100 && r <= 0xe01ef:
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0x303e,
		r >= 0x3041 && r <= 0x33ff, r >= 0x3400 && r <= 0x4dbf,
		r >= 0x4e00 && r <= 0x9fff, r >= 0xa000 && r <= 0xa4cf,
		r >= 0xac00 && r <= 0xd7a3, r >= 0xf900 && r <= 0xfaff,
		r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f,
		r >= 0x1f900 && r <= 0x1f9ff, r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

// text returns row r with trailing blanks removed, for tests and debugging.
func (s *screen) text(r int) string {
	row := s.lines[r]
	end := len(row)
	for end > 0 && row[end-1] == cellBlank {
		end--
	}
	out := make([]rune, 0, end)
	for _, c := range row[:end] {
		switch {
		case c == cellEllipsis:
			out = append(out, '…')
		case c >= 0x80:
			out = append(out, '▪')
		default:
			out = append(out, rune(c))
		}
	}
	return string(out)
}
