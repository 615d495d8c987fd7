package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAnchors compares the eight-at-a-time word search with bytes.Contains
// on rows made of the words' letters, cut anywhere, at every length.
func TestAnchors(t *testing.T) {
	parts := []string{"ttempt", "attempt", "esend", "Resend", "tem", "mp", "s n", "sen", "send", "mpt", "ese",
		"m", "p", "s", "n", "e", "t", " ", "\x80", "x"}
	rng := rand.New(rand.NewPCG(3, 4))
	found := [2]int{}
	for range 20000 {
		var b []byte
		for len(b) < 120 && rng.IntN(12) > 0 {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		for _, row := range [][]byte{b, b[:rng.IntN(len(b)+1)], b[rng.IntN(len(b)+1):]} {
			attempt, resend := anchors(row)
			want := [2]bool{bytes.Contains(row, wordAttempt), bytes.Contains(row, wordResend)}
			if [2]bool{attempt, resend} != want {
				t.Fatalf("anchors(%q) = %v, %v; want %v", row, attempt, resend, want)
			}
			if attempt {
				found[0]++
			}
			if resend {
				found[1]++
			}
		}
	}
	if found[0] == 0 || found[1] == 0 {
		t.Fatalf("the rows never held a word (%v): the test tests nothing", found)
	}
}

// screenPieces is terminal output of every kind the emulator knows, cut
// into pieces to be put together at random, with the anchor words.
var screenPieces = []string{"hello ", "wörld ", "日本 ", "…", "\r\n", "\r", "\n", "\t", "\b",
	"\x1b[2C", "\x1b[1B", "\x1b[3A", "\x1b[10G", "\x1b[5;7H", "\x1b[H", "\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[2J",
	"\x1b[J", "\x1b[31m", "\x1b[38;5;174m", "\x1b[2L", "\x1b[M", "\x1b[3P", "\x1b[2@", "\x1b[4X", "\x1b[2S", "\x1b[T",
	"\x1b[3;8r", "\x1b[r", "\x1b7", "\x1b8", "\x1bM", "\x1b[?7l", "\x1b[?7h", "\x1b[?1049h", "\x1b[?1049l",
	"\x1b[?2026h", "\x1b[?2026l", "\x1b[3b", "\x1b[12345678G", "\x1b[1;2;3H", "\x1b[?25;1049h", "\x1b[>4;2m",
	"attempt 2/10", "ttempt", "att", "empt", "Resend your message", "esend", "Res", "end", " · retrying in 3s · ",
	"429 Too many tokens", "── ", "───────", strings.Repeat("abcdefghij", 9)}

// randomOutput puts n pieces together, now and then with a recording's
// bytes or bulk text.
func randomOutput(rng *rand.Rand, pieces []string, n int, recs [][]byte) []byte {
	var b []byte
	for range n {
		switch k := rng.IntN(40); {
		case k == 0 && len(recs) > 0:
			r := recs[rng.IntN(len(recs))]
			from := rng.IntN(len(r))
			b = append(b, r[from:min(len(r), from+1+rng.IntN(600))]...)
		case k == 1:
			for i := range 5 + rng.IntN(60) {
				b = fmt.Appendf(b, "bulk line %d\r\n", i)
			}
		default:
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
	}
	return b
}

func recordingsData(t *testing.T) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.raw"))
	var recs [][]byte
	for _, f := range files {
		x, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, x)
	}
	return recs
}

// cuts splits data into reads at random places.
func cuts(rng *rand.Rand, data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := 1 + rng.IntN(min(len(data), 1+rng.IntN(2000)))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// TestRowWordsFollowWrites checks what rowWords reads, only where a row
// changed since it last read it, against a search of the whole row, for
// every row at random moments while a detector runs.
func TestRowWordsFollowWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := recordingsData(t)
	seen := 0
	for iter := range 300 {
		d := New()
		d.Resize(10+rng.IntN(100), 3+rng.IntN(30))
		for _, p := range cuts(rng, randomOutput(rng, screenPieces, 400, recs)) {
			d.Write(p)
			if rng.IntN(40) == 0 {
				d.Resize(10+rng.IntN(100), 3+rng.IntN(30)) // a SIGWINCH mid-stream
			}
			if rng.IntN(3) > 0 {
				continue
			}
			s := d.scr
			for r := range s.rows {
				attempt, resend := d.rowWords(r)
				wa, wr := anchors(s.lines[r])
				if attempt != wa || resend != wr {
					t.Fatalf("iteration %d, row %d %q: rowWords says %v, %v; the row holds %v, %v",
						iter, r, s.text(r), attempt, resend, wa, wr)
				}
				if wa || wr {
					seen++
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no row ever held a word: the test tests nothing")
	}
}

// plainPieces are lines of plain output: code with tabs, errors with
// blanks inside their words, lines too wide for a row, and what ends the
// shortcut (escape sequences, UTF-8, carriage returns).
var plainPieces = []string{"\tif err != nil {\n", "\t\treturn err\n", "}\n", "\n", "x := y // z: w\n",
	"API Error: Request rejected (429) · Too many tokens, please wait before trying again.\n",
	"API Error: 503 Service Unavailable\n", "API E rror:\tRequest rate is too high\n", "\tAPI\tError  :  Too many requests\n",
	"API Error: Claude's response exceeded the 3000 output token maximum.\n", "APIError : 429\n", "error: none\n",
	strings.Repeat("\t", 33) + "x\n", strings.Repeat("\t", 31) + "API Error: Too many tokens\n",
	strings.Repeat("long line ", 30) + "\n", strings.Repeat("w", 256) + "\n", strings.Repeat("w", 255) + "\t\n",
	strings.Repeat("w", 250) + "API Error: 429\n", "wörld\n", "\x1b[31mred\x1b[m\n", "50%\r", "100%\n", "\x1b[A",
	"\x1b[2J", "partial ", "\x07", "a\bb\n"}

// TestPlainSkipsExactly checks the lines NewPlain leaves undrawn against
// the same output fed a byte at a time, which never skips: the same
// incidents, the same screen, the same rows counted as scrolled.
func TestPlainSkipsExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	skipped := 0
	for iter := range 400 {
		data := randomOutput(rng, plainPieces, 300, nil)
		whole, bytewise := NewPlain(), NewPlain()
		whole.scr.quiet = func(text []byte) int {
			q := quietText(text)
			skipped += bytes.Count(text[:q], []byte{'\n'})
			return q
		}
		for _, p := range cuts(rng, data) {
			whole.Write(p)
		}
		for i := range data {
			bytewise.Write(data[i : i+1])
		}
		whole.Flush()
		bytewise.Flush()
		got, want := drain(whole), drain(bytewise)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("iteration %d: incidents differ (-byte by byte +in reads):\n%s\ninput %q", iter, diff, data)
		}
		if diff := cmp.Diff(plainState(bytewise.scr), plainState(whole.scr)); diff != "" {
			t.Fatalf("iteration %d: screen differs (-byte by byte +in reads):\n%s\ninput %q", iter, diff, data)
		}
	}
	if skipped == 0 {
		t.Fatal("no line was ever skipped: the test tests nothing")
	}
}

func drain(d *Detector) []Incident {
	var out []Incident
	for len(d.Incidents()) > 0 {
		out = append(out, <-d.Incidents())
	}
	return out
}

// plainState is the screen as far as a plain detector reads it.
func plainState(s *screen) []string {
	out := append(dumpScreen(s), fmt.Sprintf("scrolled %d, last printed %q", s.scrolled, s.lastPrinted))
	for r := range s.rows {
		out = append(out, fmt.Sprintf("row %d wrapped %v", r, s.meta[r].wrapped))
	}
	return out
}

// After a resize, erasing writes blanks, not what row 0 held before it.
func TestEraseAfterResize(t *testing.T) {
	s := newScreen(20, 3)
	s.write([]byte("attempt 2/10"))
	s.resize(24, 3)
	s.write([]byte("\x1b[2J\x1b[3;1Hx\x1b[K"))
	for r, want := range []string{"", "", "x"} {
		if got := s.text(r); got != want {
			t.Errorf("row %d = %q, want %q", r, got, want)
		}
	}
}

// Plain output full of lines the reader must see is drawn in time linear
// in its length: the shortcut gives up for the rest of a write instead of
// reading the same text again at every line feed. Counted in calls of
// quiet, each of which follows a read of the rest of the write, not in
// time.
func TestPlainErrorLinesStayLinear(t *testing.T) {
	// ASCII only: a "·" would end the stretch the shortcut reads.
	line := "API Error: Request rejected (429) - Too many tokens, please wait before trying again.\n"
	data := []byte(strings.Repeat(line, 2000)) // about 180 KB
	d := NewPlain()
	calls, writes := 0, 0
	q := d.scr.quiet
	d.scr.quiet = func(text []byte) int { calls++; return q(text) }
	const chunk = 32 << 10
	for i := 0; i < len(data); i += chunk {
		d.Write(data[i:min(i+chunk, len(data))])
		writes++
	}
	if calls > 2*writes {
		t.Fatalf("the rest of a write was read %d times in %d writes", calls, writes)
	}
}
