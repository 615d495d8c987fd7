package detect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// normaliser is the alternative to tracking the screen, kept here to
// measure it: a streaming filter that drops escape sequences, control
// characters and blanks, keeps the last bytes of what remains, and looks for
// the same phrases in that text. It is what a careful byte search can do.
type normaliser struct {
	st       int // 0 text, 1 ESC, 2 CSI, 3 string, 4 ESC in string, 5 skip one
	utf      int // continuation bytes still to skip
	lead     [3]byte
	win      []byte
	total    int64 // bytes ever appended to win
	lastAt   int64 // where the last reported match began
	progress string
	found    []Incident
	armed    bool
}

const normWindow = 1024

func newNormaliser() *normaliser {
	return &normaliser{win: make([]byte, 0, normWindow), lastAt: -1, armed: true}
}

func (z *normaliser) push(c byte) {
	if len(z.win) == cap(z.win) {
		n := copy(z.win, z.win[normWindow/2:])
		z.win = z.win[:n]
	}
	z.win = append(z.win, c)
	z.total++
}

func (z *normaliser) Write(p []byte) {
	for _, c := range p {
		switch z.st {
		case 0:
			switch {
			case z.utf > 0:
				z.lead[3-z.utf] = c
				z.utf--
				if z.utf == 0 {
					if z.lead == [3]byte{0xe2, 0x80, 0xa6} {
						z.push(cellEllipsis)
					} else {
						z.push(cellOther)
					}
				}
			case c == 0x1b:
				z.st = 1
			case c > 0x20 && c < 0x7f:
				z.push(c)
			case c >= 0xe0 && c < 0xf0:
				z.lead = [3]byte{c}
				z.utf = 2
			case c >= 0xc0:
				z.push(cellOther)
				if c >= 0xf0 {
					z.utf = 0
				}
			}
		case 1:
			switch c {
			case '[':
				z.st = 2
			case ']', 'P', 'X', '^', '_':
				z.st = 3
			case '(', ')', '*', '+', '#', '%':
				z.st = 5
			default:
				z.st = 0
			}
		case 2:
			if c >= 0x40 && c <= 0x7e {
				z.st = 0
			}
		case 3:
			if c == 0x07 {
				z.st = 0
			} else if c == 0x1b {
				z.st = 4
			}
		case 4:
			z.st = 0
			if c != '\\' {
				z.st = 3
			}
		case 5:
			z.st = 0
		}
	}
	z.scan()
}

// scan reports matches that began after the last one reported.
func (z *normaliser) scan() {
	base := z.total - int64(len(z.win))
	if i := bytes.LastIndex(z.win, sqAttempt); i >= 0 {
		if _, a, b, ok, _ := parseProgress(z.win[max(0, i-120):]); ok {
			if s := fmt.Sprint(a, "/", b); s != z.progress {
				z.progress = s
				z.found = append(z.found, Incident{Attempt: a, Of: b})
			}
		}
	}
	for off := 0; ; {
		i := bytes.Index(z.win[off:], sqAPIError)
		if i < 0 {
			return
		}
		at := base + int64(off+i)
		off += i + len(sqAPIError)
		if at <= z.lastAt {
			continue
		}
		rest := z.win[off:min(len(z.win), off+160)]
		end := bytes.IndexByte(rest, '.')
		if end < 0 {
			return // the sentence is not all here yet
		}
		kind, n := classifyFinal(rest[:end+1])
		if kind == KindNone {
			continue
		}
		z.lastAt = at
		if z.armed {
			z.found = append(z.found, Incident{Kind: kind, Final: true, Cap: n})
			z.armed = false
		}
	}
}

// TestCompareNormaliser measures the streaming normaliser on the
// recordings, against the screen detector, in frame-sized reads. What it
// shows: the final error lines read fine from the stream, but the retry
// counter cannot, because Claude Code rewrites only the cells that change
// ("attempt 2/2" never appears in one piece), and an error redrawn in place
// cannot be told from a new one. The detector tracks the screen instead.
func TestCompareNormaliser(t *testing.T) {
	var report strings.Builder
	normRight, screenRight, normLast, screenLast := 0, 0, 0, 0
	for _, rc := range recordings {
		data, cols, inputs := rc.load(t)
		rs := rc.resizes(t)
		var cuts []int
		for c := 64; c < len(data); c += 64 {
			cuts = append(cuts, c)
		}
		screen := replay(rc, data, cols, inputs, cuts, rs...)

		z := newNormaliser()
		if rc.replayed {
			z.armed = false
		}
		pos := 0
		for _, end := range append(cuts, len(data)) {
			for _, in := range inputs {
				if in > pos && in <= end {
					z.Write(data[pos:in])
					z.armed = true
					pos = in
				}
			}
			z.Write(data[pos:end])
			pos = end
		}
		var finals, screenFinals []string
		lastAttempt, screenAttempt := "", ""
		for _, inc := range z.found {
			if inc.Final {
				finals = append(finals, inc.Kind.String())
			} else {
				lastAttempt = fmt.Sprint(inc.Attempt, "/", inc.Of)
			}
		}
		for _, inc := range screen {
			if inc.Final {
				screenFinals = append(screenFinals, inc.Kind.String())
			}
			if inc.Of > 0 {
				screenAttempt = fmt.Sprint(inc.Attempt, "/", inc.Of)
			}
		}
		var want []string
		for _, w := range rc.want {
			want = append(want, w.Kind.String())
		}
		if fmt.Sprint(finals) == fmt.Sprint(want) {
			normRight++
		}
		if fmt.Sprint(screenFinals) == fmt.Sprint(want) {
			screenRight++
		}
		// Every recording that retries ends at attempt 2/2 (2 retries).
		// The main set retries twice, so its last retry reads 2/2.
		retries := !strings.Contains(rc.file, "/") && (strings.HasPrefix(rc.file, "tpm") || strings.HasPrefix(rc.file, "rpm") ||
			strings.HasPrefix(rc.file, "rate") || strings.HasPrefix(rc.file, "tpd") || strings.HasPrefix(rc.file, "unavailable"))
		if retries && lastAttempt == "2/2" {
			normLast++
		}
		if retries && screenAttempt == "2/2" {
			screenLast++
		}
		fmt.Fprintf(&report, "%-27s want %-40s normaliser %-40s last attempt %-5s| screen %-40s last attempt %s\n",
			rc.file, strings.Join(want, ","), strings.Join(finals, ","), lastAttempt, strings.Join(screenFinals, ","), screenAttempt)
	}
	t.Logf("final incidents right: normaliser %d/%d, screen %d/%d; last retry (2/2) seen: normaliser %d, screen %d\n%s",
		normRight, len(recordings), screenRight, len(recordings), normLast, screenLast, report.String())
	if screenRight != len(recordings) {
		t.Errorf("the screen detector got %d of %d recordings right", screenRight, len(recordings))
	}
	if normLast >= screenLast {
		t.Errorf("the normaliser saw the last retry in %d recordings, the screen detector in %d: the reason to track the screen is gone, measure again", normLast, screenLast)
	}
}

// BenchmarkNormaliserRecorded is BenchmarkDetectorRecorded for the
// streaming normaliser.
func BenchmarkNormaliserRecorded(b *testing.B) {
	data := recordedData(b)
	z := newNormaliser()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for i := 0; i < len(data); i += 4 << 10 {
			z.Write(data[i:min(i+4<<10, len(data))])
		}
	}
}

// BenchmarkNormaliserBulkText is BenchmarkDetectorBulkText for the
// streaming normaliser.
func BenchmarkNormaliserBulkText(b *testing.B) {
	data := goSource(b, 8<<20)
	z := newNormaliser()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for i := 0; i < len(data); i += 32 << 10 {
			z.Write(data[i:min(i+32<<10, len(data))])
		}
	}
}
