package ptytest

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Screen is a minimal terminal emulator: enough of xterm to tell what a
// person would see of a full-screen program such as Claude Code's TUI —
// cursor movement, erasing, line wrap and scrolling, the alternate screen,
// insert and delete of characters and lines, scroll regions. Colours and
// attributes are dropped, every character is one cell wide, and terminal
// queries are not answered. It is for tests that assert on the screen ("the
// error is shown", "the banner is gone again"); it is no faster than it
// needs to be for a few hundred KB.
type Screen struct {
	rows, cols int
	main, alt  [][]rune
	cells      [][]rune // main or alt
	altOn      bool
	r, c       int
	savedR     int
	savedC     int
	top, bot   int  // scroll region, inclusive rows
	wrapNext   bool // the cursor is past the last column; the next character wraps
	pending    []byte
}

// NewScreen returns an empty screen of rows x cols with the cursor at the top left.
func NewScreen(rows, cols int) *Screen {
	s := &Screen{rows: rows, cols: cols, bot: rows - 1}
	s.main = blank(rows, cols)
	s.alt = blank(rows, cols)
	s.cells = s.main
	return s
}

func blank(rows, cols int) [][]rune {
	g := make([][]rune, rows)
	for i := range g {
		g[i] = blankRow(cols)
	}
	return g
}

func blankRow(cols int) []rune {
	row := make([]rune, cols)
	for i := range row {
		row[i] = ' '
	}
	return row
}

// Size returns the screen's rows and columns.
func (s *Screen) Size() (rows, cols int) { return s.rows, s.cols }

// Cursor returns the cursor position, 0-based.
func (s *Screen) Cursor() (row, col int) { return s.r, s.c }

// AltScreen reports whether the alternate screen is showing.
func (s *Screen) AltScreen() bool { return s.altOn }

// Lines returns the rows of the visible screen with trailing spaces removed.
func (s *Screen) Lines() []string {
	out := make([]string, s.rows)
	for i, row := range s.cells {
		out[i] = strings.TrimRight(string(row), " ")
	}
	return out
}

// String returns the visible screen as text, one line per row, without
// trailing spaces or trailing empty rows.
func (s *Screen) String() string {
	return strings.TrimRight(strings.Join(s.Lines(), "\n"), "\n")
}

// Resize changes the size as xterm does without reflow: text stays where it
// is, cut off or padded; the cursor is kept inside.
func (s *Screen) Resize(rows, cols int) {
	fit := func(g [][]rune) [][]rune {
		n := blank(rows, cols)
		for i := 0; i < rows && i < len(g); i++ {
			copy(n[i], g[i])
		}
		return n
	}
	s.main, s.alt = fit(s.main), fit(s.alt)
	s.cells = s.main
	if s.altOn {
		s.cells = s.alt
	}
	s.rows, s.cols = rows, cols
	s.top, s.bot = 0, rows-1
	s.r, s.c = min(s.r, rows-1), min(s.c, cols-1)
	s.wrapNext = false
}

// Write feeds output to the screen. A sequence cut off at the end of p is
// kept and completed by the next Write. It never fails.
func (s *Screen) Write(p []byte) (int, error) {
	n := len(p)
	if len(s.pending) > 0 {
		p = append(s.pending, p...)
		s.pending = nil
	}
	for i := 0; i < len(p); {
		b := p[i]
		switch {
		case b == 0x1b:
			j, ok := s.escape(p, i)
			if !ok {
				s.pending = append([]byte(nil), p[i:]...)
				return n, nil
			}
			i = j
		case b < 0x20 || b == 0x7f:
			s.control(b)
			i++
		default:
			if !utf8.FullRune(p[i:]) {
				s.pending = append([]byte(nil), p[i:]...)
				return n, nil
			}
			r, size := utf8.DecodeRune(p[i:])
			s.print(r)
			i += size
		}
	}
	return n, nil
}

func (s *Screen) print(r rune) {
	if s.wrapNext {
		s.wrapNext = false
		s.c = 0
		s.lineFeed()
	}
	s.cells[s.r][s.c] = r
	if s.c == s.cols-1 {
		s.wrapNext = true
	} else {
		s.c++
	}
}

func (s *Screen) control(b byte) {
	switch b {
	case '\r':
		s.c, s.wrapNext = 0, false
	case '\n', 0x0b, 0x0c:
		s.lineFeed()
	case '\b':
		if s.c > 0 {
			s.c--
		}
		s.wrapNext = false
	case '\t':
		s.c = min((s.c/8+1)*8, s.cols-1)
	}
}

// lineFeed moves down a row, scrolling the region when at its bottom.
func (s *Screen) lineFeed() {
	s.wrapNext = false
	if s.r == s.bot {
		s.scrollUp(1)
	} else if s.r < s.rows-1 {
		s.r++
	}
}

func (s *Screen) scrollUp(n int) {
	for range n {
		copy(s.cells[s.top:s.bot], s.cells[s.top+1:s.bot+1])
		s.cells[s.bot] = blankRow(s.cols)
	}
}

func (s *Screen) scrollDown(n int) {
	for range n {
		copy(s.cells[s.top+1:s.bot+1], s.cells[s.top:s.bot])
		s.cells[s.top] = blankRow(s.cols)
	}
}

// escape handles the sequence at p[i] (ESC) and returns the index after it,
// or ok false if p ends inside it.
func (s *Screen) escape(p []byte, i int) (next int, ok bool) {
	if i+1 >= len(p) {
		return 0, false
	}
	switch p[i+1] {
	case '[':
		j := i + 2
		for j < len(p) && (p[j] < 0x40 || p[j] > 0x7e) {
			j++
		}
		if j >= len(p) {
			return 0, false
		}
		s.csi(string(p[i+2:j]), p[j])
		return j + 1, true
	case ']', 'P', 'X', '^', '_': // strings, ended by BEL or ST
		for j := i + 2; j < len(p); j++ {
			if p[j] == 0x07 {
				return j + 1, true
			}
			if p[j] == 0x1b && j+1 < len(p) && p[j+1] == '\\' {
				return j + 2, true
			}
		}
		return 0, false
	case '(', ')', '*', '+', '-', '.', '/', '#', '%', ' ':
		if i+2 >= len(p) {
			return 0, false
		}
		return i + 3, true
	case '7':
		s.savedR, s.savedC = s.r, s.c
	case '8':
		s.r, s.c, s.wrapNext = s.savedR, s.savedC, false
	case 'D':
		s.lineFeed()
	case 'E':
		s.c = 0
		s.lineFeed()
	case 'M':
		if s.r == s.top {
			s.scrollDown(1)
		} else if s.r > 0 {
			s.r--
		}
	case 'c':
		*s = *NewScreen(s.rows, s.cols)
	}
	return i + 2, true
}

func (s *Screen) csi(params string, final byte) {
	private := strings.HasPrefix(params, "?") || strings.HasPrefix(params, ">") ||
		strings.HasPrefix(params, "<") || strings.HasPrefix(params, "=")
	if private {
		if final == 'h' || final == 'l' {
			for _, m := range strings.Split(params[1:], ";") {
				if params[0] == '?' && (m == "1049" || m == "1047" || m == "47") {
					s.setAlt(final == 'h', m == "1049")
				}
			}
		}
		return
	}
	var ps []int
	for _, f := range strings.Split(params, ";") {
		v, err := strconv.Atoi(strings.TrimRight(f, " !\"#$%&'()*+,-./")) // drop intermediates
		if err != nil {
			v = 0 // empty or odd: the default
		}
		ps = append(ps, v)
	}
	arg := func(k, def int) int {
		if k < len(ps) && ps[k] > 0 {
			return ps[k]
		}
		return def
	}
	n := arg(0, 1)
	s.wrapNext = false
	switch final {
	case 'A':
		s.r = max(s.r-n, 0)
	case 'B', 'e':
		s.r = min(s.r+n, s.rows-1)
	case 'C', 'a':
		s.c = min(s.c+n, s.cols-1)
	case 'D':
		s.c = max(s.c-n, 0)
	case 'E':
		s.r, s.c = min(s.r+n, s.rows-1), 0
	case 'F':
		s.r, s.c = max(s.r-n, 0), 0
	case 'G', '`':
		s.c = min(n, s.cols) - 1
	case 'd':
		s.r = min(n, s.rows) - 1
	case 'H', 'f':
		s.r, s.c = min(arg(0, 1), s.rows)-1, min(arg(1, 1), s.cols)-1
	case 'J':
		switch arg(0, 0) {
		case 0:
			s.eraseRow(s.r, s.c, s.cols)
			for y := s.r + 1; y < s.rows; y++ {
				s.cells[y] = blankRow(s.cols)
			}
		case 1:
			s.eraseRow(s.r, 0, s.c+1)
			for y := 0; y < s.r; y++ {
				s.cells[y] = blankRow(s.cols)
			}
		default:
			for y := range s.cells {
				s.cells[y] = blankRow(s.cols)
			}
		}
	case 'K':
		switch arg(0, 0) {
		case 0:
			s.eraseRow(s.r, s.c, s.cols)
		case 1:
			s.eraseRow(s.r, 0, s.c+1)
		default:
			s.eraseRow(s.r, 0, s.cols)
		}
	case 'X':
		s.eraseRow(s.r, s.c, min(s.c+n, s.cols))
	case 'P':
		row := s.cells[s.r]
		n = min(n, s.cols-s.c)
		copy(row[s.c:], row[s.c+n:])
		s.eraseRow(s.r, s.cols-n, s.cols)
	case '@':
		row := s.cells[s.r]
		n = min(n, s.cols-s.c)
		copy(row[s.c+n:], row[s.c:s.cols-n])
		s.eraseRow(s.r, s.c, s.c+n)
	case 'L', 'M':
		if s.r < s.top || s.r > s.bot {
			return
		}
		top := s.top
		s.top = s.r
		if final == 'L' {
			s.scrollDown(min(n, s.bot-s.r+1))
		} else {
			s.scrollUp(min(n, s.bot-s.r+1))
		}
		s.top = top
	case 'S':
		s.scrollUp(n)
	case 'T':
		s.scrollDown(n)
	case 'r':
		top, bot := arg(0, 1)-1, arg(1, s.rows)-1
		if top < bot && bot < s.rows {
			s.top, s.bot = top, bot
		} else {
			s.top, s.bot = 0, s.rows-1
		}
		s.r, s.c = 0, 0
	case 's':
		s.savedR, s.savedC = s.r, s.c
	case 'u':
		s.r, s.c = s.savedR, s.savedC
	}
}

func (s *Screen) eraseRow(y, from, to int) {
	for x := from; x < to && x < s.cols; x++ {
		s.cells[y][x] = ' '
	}
}

// setAlt switches to or from the alternate screen; mode 1049 also saves and
// restores the cursor and clears the alternate screen on entry.
func (s *Screen) setAlt(on, saveCursor bool) {
	if on == s.altOn {
		return
	}
	if on {
		if saveCursor {
			s.savedR, s.savedC = s.r, s.c
			s.alt = blank(s.rows, s.cols)
		}
		s.cells = s.alt
	} else {
		s.cells = s.main
		if saveCursor {
			s.r, s.c = s.savedR, s.savedC
		}
	}
	s.altOn = on
	s.wrapNext = false
}
