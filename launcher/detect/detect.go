package detect

import (
	"bytes"
	"sync"
)

// Kind is what went wrong. Its String values are the ones written to the
// incident record.
type Kind int

// The kinds of failure the detector tells apart.
const (
	// KindNone means no failure, or one the detector cannot name.
	KindNone Kind = iota
	// TokensPerMinute is Bedrock's "Too many tokens" (429): a lower output
	// cap helps, because Bedrock reserves max_tokens against the quota.
	TokensPerMinute
	// RequestsPerMinute is "Too many requests" or "request rate is too
	// high" (429): fewer parallel requests help, a lower cap does not.
	RequestsPerMinute
	// TokensPerDay is "Too many tokens per day" (429): only another
	// profile, region or tomorrow helps.
	TokensPerDay
	// ServiceUnavailable is a 503, "unable to process your request".
	ServiceUnavailable
	// CapTooLow is "Claude's response exceeded the N output token
	// maximum": the cap is too low, a higher one helps.
	CapTooLow
)

var kindNames = [...]string{
	KindNone:           "none",
	TokensPerMinute:    "tokens_per_minute",
	RequestsPerMinute:  "requests_per_minute",
	TokensPerDay:       "tokens_per_day",
	ServiceUnavailable: "service_unavailable",
	CapTooLow:          "cap_too_low",
}

// String returns the name used in the incident record, e.g.
// "tokens_per_minute".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// Incident is one failure as seen on screen. The detector sends a new value
// each time it learns more about the same failure (a later retry, the final
// message); all values of one failure carry the same Seq.
type Incident struct {
	// Seq numbers the failures seen by this Detector, from 1.
	Seq int
	// Kind is never KindNone in a sent Incident.
	Kind Kind
	// Final is true once Claude Code has given up: its "API Error: …"
	// line is on screen and it waits for the user. An incident whose last
	// value is not Final ended without that (the retry succeeded).
	Final bool
	// Cap is N from "exceeded the N output token maximum" for CapTooLow,
	// else 0.
	Cap int
	// Attempt and Of are a and b from the latest "attempt a/b" seen for
	// this failure, or 0 if none was seen.
	Attempt, Of int
}

// queueLen is how many incident values wait for a slow reader before the
// oldest is dropped: each value carries the whole state of its failure, so
// losing an intermediate one loses nothing the next does not repeat.
const queueLen = 16

// The screen of a NewPlain detector: wide enough that an error line
// wraps at most once, narrow so that each line costs little.
const (
	plainCols = 256
	plainRows = 8
)

// maxWindow bounds the text examined around a match (bytes, blanks removed).
const maxWindow = 2048

// Detector watches a copy of Claude Code's terminal output for throttling
// and related failures. Feed it with Write after the bytes have gone to the
// user's terminal; read what it finds from Incidents.
//
// It tracks the screen with a minimal terminal emulator of fixed size (at
// most maxCols × maxRows one-byte cells, allocated by New and Resize), so
// cursor jumps, partial redraws, wrapping and writes split at any byte read
// as the user sees them. It reads the rows that changed at the start of
// each frame (Claude Code draws each from cursor-home, or inside
// synchronized-output marks) and at the end of each Write, except the row
// the cursor is still drawing.
//
// What starts and ends an incident:
//   - A spinner line "… retrying in Ns · attempt a/b" is a request being
//     retried; the retries of one failure are one incident, sent again
//     when the attempt or the kind changes. If the attempt counter starts
//     over, or the line stays away for more than a few frames (the retry
//     succeeded and the answer is being drawn), the earlier failure ended
//     and the next one is a new incident.
//   - Claude Code gives up by printing "API Error: …" in the conversation
//     and putting "Resend your message to try again" in the input box.
//     That hint is never part of a replayed conversation, so its
//     appearance, read together with the nearest "API Error:" line above
//     it, makes the incident Final.
//   - After a Final incident no new one starts until UserInput is called:
//     the user has to send a message before Claude Code talks to Bedrock
//     again, and an old screen redrawn (after a resize, say) must not
//     count twice. Reset forgets the screen and also waits for UserInput,
//     so what `claude --continue` replays is never an incident.
//
// A Detector is safe for use by several goroutines: the PTY copy loop calls
// Write while the stdin reader calls UserInput.
type Detector struct {
	mu    sync.Mutex
	scr   *screen
	plain bool
	ch    chan Incident

	armed     bool     // a new incident may start
	open      bool     // cur is a failure still being retried
	cur       Incident // the open or the last incident
	seq       int
	lastFinal int64 // plain output: where the last reported line began
	heldRow   int   // the cursor's row while scanDirty holds it, else -1
	hints     int   // the Resend hint read being drawn, see Hints
	hintSeen  bool  // the hint was read since the last UserInput, see HintShown

	// The spinner row of the open incident, and whether it has stopped
	// showing "attempt a/b" (between retries, when the retry succeeded, or
	// when Claude Code gave up), since which frame (frames are counted at
	// each cursor-home).
	progressRow int
	spinnerGone bool
	goneFrame   int
	frame       int
	sq          []byte // scratch for squeezed text, cap maxWindow
}

// New returns a Detector for output meant for a terminal (a PTY), sized
// 80×24 until Resize says otherwise. It is armed: the first failure counts.
func New() *Detector {
	return newDetector(false)
}

// NewPlain returns a Detector for output that is not drawn on a terminal,
// such as `claude -p` writing to a pipe: each line feed also returns the
// carriage, lines wrap at 256 columns, and every "API Error" line is a new
// Final incident (nothing is replayed or redrawn there). Use one per
// stream: lines of stdout and stderr mixed in one detector can cut each
// other.
func NewPlain() *Detector {
	return newDetector(true)
}

func newDetector(plain bool) *Detector {
	cols, rows := defaultCols, defaultRows
	if plain {
		cols, rows = plainCols, plainRows
	}
	d := &Detector{
		scr:         newScreen(cols, rows),
		plain:       plain,
		ch:          make(chan Incident, queueLen),
		armed:       true,
		lastFinal:   -1,
		progressRow: -1,
		heldRow:     -1,
		sq:          make([]byte, 0, maxWindow),
	}
	d.scr.newlineIsCR = plain
	if plain {
		d.scr.onLineFeed = d.plainLine
		d.scr.quiet = quietText
	} else {
		d.scr.onClear = func(r int) {
			d.scr.meta[r].dirty = false
			d.checkRow(r)
		}
		d.scr.onHome = func() {
			d.scanDirty(false)
			d.frame++
		}
	}
	return d
}

// Incidents returns the channel on which the detector sends what it finds.
// Sends never block: if the reader falls behind by more than 16 values,
// the oldest waiting value is dropped. The channel is never closed.
func (d *Detector) Incidents() <-chan Incident { return d.ch }

// Resize tells the detector the terminal's size, as set on the PTY. Call it
// before the child starts and on every SIGWINCH. Sizes above 1024 columns or
// 512 rows are clamped. It has no effect on a NewPlain detector.
func (d *Detector) Resize(cols, rows int) {
	if d.plain {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scr.resize(cols, rows)
}

// UserInput tells the detector that the user sent something (pressed Enter
// in claude's input box). A failure seen after it is a new incident. A
// failure still being retried stays the same incident (Claude Code queues
// a message typed meanwhile).
func (d *Detector) UserInput() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = true
	d.hintSeen = false
	if d.recovered() {
		d.open = false
	}
}

// goneFrames is how many frames the retrying line must stay away before
// its failure counts as over. Claude Code blanks it for a frame or two
// between retries and right before its final error; a retry that succeeds
// is followed by the answer, many frames.
const goneFrames = 5

// recovered reports whether the open incident's retrying line has been
// gone long enough that the failure is over without a final error.
func (d *Detector) recovered() bool {
	return d.open && d.spinnerGone && d.frame-d.goneFrame > goneFrames
}

// Hints returns how many times the detector has read Claude Code's
// "Resend your message" hint being drawn, whether or not it made an
// incident Final. After asking claude to repaint a screen that shows a
// final error, a count grown since says the old error has been read again:
// from then on, what the user sends cannot make the detector take it for
// a new one.
func (d *Detector) Hints() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hints
}

// HintShown reports whether Claude Code's Resend hint has been read since
// the user last sent something: it is on screen, and a repaint of claude's
// screen draws it again (see Hints). On a terminal too short to show the
// input box a final error is read where claude was retrying, and there is
// no hint.
func (d *Detector) HintShown() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hintSeen
}

// Reset forgets the screen and any open incident, and treats everything
// drawn from now on as old until UserInput is called. Call it when a new
// claude process starts on the same terminal with `--continue` or
// `--resume`, whose replay of the conversation shows old errors again.
func (d *Detector) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scr.reset()
	d.armed = false
	d.hintSeen = false
	d.open = false
	d.progressRow = -1
	d.scr.watchRow = -1
	d.spinnerGone = false
}

// Lost tells the detector that some of claude's output never reached it
// (the launcher skipped a flood of output past its reading budget): it forgets the
// screen and any open incident, as Reset does, but stays armed if it was,
// so a failure drawn afresh after a flood of output still counts.
func (d *Detector) Lost() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scr.reset()
	d.open = false
	d.progressRow = -1
	d.scr.watchRow = -1
	d.spinnerGone = false
}

// Write feeds a copy of claude's output to the detector. It never fails,
// never keeps p, and never blocks on the reader of Incidents.
func (d *Detector) Write(p []byte) (int, error) {
	d.mu.Lock()
	d.scr.write(p)
	if !d.plain {
		d.scanDirty(d.scr.endedMidFrame)
	}
	d.mu.Unlock()
	return len(p), nil
}

// Flush reads what is still unread: the last line of plain output that had
// no line feed, or a row claude was still drawing when its output ended.
// Call it at the end of the output.
func (d *Detector) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.plain {
		d.plainLine(d.scr.y)
		return
	}
	d.scanDirty(false)
}

// scanDirty checks every row written since the last scan. The cursor's row
// is left for later when the output stopped in the middle of a frame: the
// rest of that row may still be to come.
func (d *Detector) scanDirty(holdCursorRow bool) {
	s := d.scr
	if s.dirtyHi < 0 {
		return
	}
	lo, hi := s.dirtyLo, s.dirtyHi
	s.dirtyLo, s.dirtyHi = s.rows, -1
	d.heldRow = -1
	if holdCursorRow {
		d.heldRow = s.y
	}
	defer func() { d.heldRow = -1 }()
	for r := lo; r <= hi && r < s.rows; r++ {
		if !s.meta[r].dirty {
			continue
		}
		if holdCursorRow && r == s.y {
			s.dirtyLo, s.dirtyHi = r, r
			continue
		}
		s.meta[r].dirty = false
		d.checkRow(r)
	}
}

// checkRow looks at a changed row of a terminal screen.
func (d *Detector) checkRow(r int) {
	s := d.scr
	row := s.lines[r]
	attempt, resend := d.rowWords(r)
	if attempt {
		d.progressAt(r)
	} else if r > 0 && r-1 != d.heldRow && startsWithDigit(row) && bytes.Contains(s.lines[r-1], wordAttempt) {
		// "attempt" at the end of the row above, "3/10" wrapped here.
		d.progressAt(r - 1)
	} else if r == d.progressRow && d.open && !d.spinnerGone {
		// The retrying line went away: the retry succeeded, or Claude
		// Code gave up and its final error follows in this frame.
		d.spinnerGone = true
		d.goneFrame = d.frame
		d.armed = true
	}
	if resend {
		d.hintAt(r)
	} else if r == d.progressRow && d.open && d.spinnerGone {
		d.errorOverSpinner(r)
	}
}

// errorOverSpinner handles row r, where the open incident's retrying line
// was and is no more: when it now shows the end of an "API Error:"
// message, Claude Code gave up and put its final error where it was
// retrying. On a terminal of a few rows that is all there is to see: its
// input box, and the hint in it, are below the last row.
func (d *Detector) errorOverSpinner(r int) {
	for rr := r; rr >= 0 && rr >= r-maxRows; rr-- {
		if !bytes.Contains(d.scr.lines[rr], wordRror) {
			continue
		}
		// The message down to the first row that ends a sentence, and
		// only once it is drawn that far: a message cut where it wraps
		// could read as another kind ("Too many tokens" of "… per day").
		// What follows it (claude's input box) is not part of it.
		for end, prev := r, -1; end < d.scr.rows && end != d.heldRow; end++ {
			t := d.rowText(rr, end, false)
			if len(t) == prev {
				return // a blank row: the message ended unfinished
			}
			prev = len(t)
			if i := bytes.Index(t, sqAPIError); i >= 0 && bytes.HasSuffix(t, []byte(".")) {
				kind, capN := classifyFinal(t[i+len(sqAPIError):])
				d.final(kind, capN)
				return
			}
		}
		return
	}
}

// rowWords reports whether row r holds wordAttempt and wordResend. The rows
// a frame touches are read at every frame, so unless the row held a word
// when last read, it searches only the columns that may have changed since,
// widened by a word's length: a word that was not there then includes one
// of them.
func (d *Detector) rowWords(r int) (attempt, resend bool) {
	s := d.scr
	m := &s.meta[r]
	lo, hi := 0, s.cols
	if !m.words {
		const reach = len("ttempt") - 1 // the longer word
		lo, hi = max(int(m.lo)-reach, 0), min(int(m.hi)+reach, s.cols)
	}
	if lo < hi {
		attempt, resend = anchors(s.lines[r][lo:hi])
	}
	m.words = attempt || resend
	m.lo, m.hi = blankRow.lo, blankRow.hi
	return attempt, resend
}

func startsWithDigit(row []byte) bool {
	for _, c := range row {
		if c != cellBlank {
			return c >= '0' && c <= '9'
		}
	}
	return false
}

// rowText squeezes rows from..to (inclusive) into d.sq, stopping at a blank
// row when stopAtBlank (a blank row ends a message in the conversation).
func (d *Detector) rowText(from, to int, stopAtBlank bool) []byte {
	s := d.scr
	sq := d.sq[:0]
	for r := from; r <= to && r < s.rows; r++ {
		n := len(sq)
		sq = squeeze(sq, s.lines[r][:min(s.cols, maxWindow-len(sq))])
		if stopAtBlank && len(sq) == n && r > from {
			break
		}
		if len(sq) >= maxWindow-1 {
			break
		}
	}
	d.sq = sq
	return sq
}

// progressAt reads the spinner line at row r (and r+1 if it wrapped).
func (d *Detector) progressAt(r int) {
	kind, a, b, ok, complete := parseProgress(d.rowText(r, r, false))
	if !complete && r+1 < d.scr.rows && r+1 != d.heldRow {
		kind, a, b, ok, _ = parseProgress(d.rowText(r, r+1, false))
	}
	if !ok {
		return
	}
	switch {
	case !d.open:
		if !d.armed {
			return
		}
		d.start()
	case a < d.cur.Attempt:
		d.start() // the counter started over: a new failure
	case a == d.cur.Attempt && b == d.cur.Of && (kind == KindNone || kind == d.cur.Kind):
		return
	}
	d.progressRow = r
	d.scr.watchRow = r
	d.spinnerGone = false
	d.cur.Attempt, d.cur.Of = a, b
	if kind != KindNone {
		d.cur.Kind = kind
	}
	if d.cur.Kind != KindNone {
		d.emit(d.cur)
	}
}

func (d *Detector) start() {
	d.seq++
	d.cur = Incident{Seq: d.seq}
	d.open = true
	d.armed = false
}

// hintAt handles row r, which may show the "Resend your message" hint that
// Claude Code puts in its input box after giving up.
func (d *Detector) hintAt(r int) {
	if !bytes.Contains(d.rowText(r, r, false), sqHint) {
		return
	}
	d.hints++
	d.hintSeen = true
	if !d.open && !d.armed {
		return // already reported, or part of a replay
	}
	// The newest "API Error:" line is the nearest one above the hint.
	kind, capN := KindNone, 0
	for rr := r - 1; rr >= 0 && rr >= r-maxRows; rr-- {
		if !bytes.Contains(d.scr.lines[rr], wordRror) {
			continue
		}
		t := d.rowText(rr, r-1, true)
		if i := bytes.Index(t, sqAPIError); i >= 0 {
			kind, capN = classifyFinal(t[i+len(sqAPIError):])
			break
		}
	}
	d.final(kind, capN)
}

// final ends the open incident, or records a new one, as given up.
func (d *Detector) final(kind Kind, capN int) {
	if d.recovered() {
		d.open = false // and this is another failure
	}
	if kind == KindNone && d.open {
		kind = d.cur.Kind
	}
	wasOpen := d.open
	d.open = false
	if kind == KindNone {
		d.armed = false
		return // an error that is none of ours
	}
	if !wasOpen {
		d.start()
		d.open = false
	}
	d.cur.Kind = kind
	d.cur.Cap = capN
	d.cur.Final = true
	d.armed = false
	d.emit(d.cur)
}

// quietText returns the offset of the first ':' in text that follows
// "APIError" once blanks (spaces and tabs) are removed, or len(text). text
// is whole lines of printable ASCII and tabs, each drawn from the start of
// a blank row: then its cells hold its characters in order with blanks
// between, and plainLine, which needs "APIError:" in them once blanks are
// removed, finds nothing in the lines before that colon.
func quietText(text []byte) int {
	for i := 0; ; i++ {
		k := bytes.IndexByte(text[i:], ':')
		if k < 0 {
			return len(text)
		}
		if i += k; endsSqueezed(text[:i], sqAPIError[:len(sqAPIError)-1]) {
			return i
		}
	}
}

// endsSqueezed reports whether t ends with w once spaces and tabs are
// removed.
func endsSqueezed(t, w []byte) bool {
	j := len(t)
	for k := len(w) - 1; k >= 0; k-- {
		for j > 0 && (t[j-1] == ' ' || t[j-1] == '\t') {
			j--
		}
		if j == 0 || t[j-1] != w[k] {
			return false
		}
		j--
	}
	return true
}

// plainLine checks the logical line (rows joined by autowrap) that ends at
// row r of plain output.
func (d *Detector) plainLine(r int) {
	s := d.scr
	from := r
	for from > 0 && s.meta[from-1].wrapped {
		from--
	}
	for k := from; k <= r; k++ {
		s.meta[k].dirty = false
	}
	s.recomputeDirtyRange()
	if from == r && !bytes.Contains(s.lines[r], wordRror) {
		return // the common case: one row, no "Error:" in it
	}
	t := d.rowText(from, r, false)
	i := bytes.Index(t, sqAPIError)
	if i < 0 {
		return
	}
	// One line is one incident, however often Flush is called on it.
	at := s.scrolled + int64(from)
	if at == d.lastFinal {
		return
	}
	kind, capN := classifyFinal(t[i+len(sqAPIError):])
	if kind == KindNone {
		return
	}
	d.lastFinal = at
	d.armed = true
	d.final(kind, capN)
}

// emit sends inc without ever blocking: when the queue is full the oldest
// value makes room. Only Write's goroutine sends (under d.mu), so after one
// receive there is room for this value.
func (d *Detector) emit(inc Incident) {
	select {
	case d.ch <- inc:
		return
	default:
	}
	select {
	case <-d.ch:
	default:
	}
	select {
	case d.ch <- inc:
	default:
		// Unreachable while sends hold d.mu; dropping is the safe choice.
	}
}
