package ptytest_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

func TestScreenBasics(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"text and CRLF", "ab\r\ncd", "ab\ncd"},
		{"cursor jump in place of a space", "Too\x1b[5Gmany", "Too many"},
		{"absolute position", "\x1b[3;4Hx\x1b[1;1Hy", "y\n\n   x"},
		{"erase to end of line", "abcdef\x1b[1;3H\x1b[K", "ab"},
		{"erase whole screen", "abc\r\ndef\x1b[2Jz", "\n   z"},
		{"autowrap at the last column", "abcdefghijkl", "abcdefghij\nkl"},
		{"no wrap before a CR at the last column", "abcdefghij\r\nx", "abcdefghij\nx"},
		{"scroll at the bottom", "1\r\n2\r\n3\r\n4", "2\n3\n4"},
		{"colours dropped", "\x1b[38;5;203mred\x1b[0m", "red"},
		{"OSC title dropped", "\x1b]0;title\x07ok", "ok"},
		{"delete chars", "abcde\x1b[1;2H\x1b[2P", "ade"},
		{"insert chars", "abc\x1b[1;2H\x1b[2@", "a  bc"},
		{"save and restore", "\x1b7ab\x1b8X", "Xb"},
		{"alternate screen and back", "main\x1b[?1049h\x1b[Halt\x1b[?1049l", "main"},
		{"relative moves", "\x1b[2B\x1b[3Cx\x1b[A\x1b[2Dy", "\n  y\n   x"},
		{"multibyte", "● é", "● é"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ptytest.NewScreen(3, 10)
			_, _ = s.Write([]byte(tc.in)) // never fails
			if got := s.String(); got != tc.want {
				t.Errorf("screen %q, want %q", got, tc.want)
			}
		})
	}
}

func TestScreenAltState(t *testing.T) {
	s := ptytest.NewScreen(3, 10)
	_, _ = s.Write([]byte("shell$ \x1b[?1049h\x1b[2J\x1b[Htui")) // never fails
	if !s.AltScreen() || s.String() != "tui" {
		t.Errorf("alt %v screen %q", s.AltScreen(), s.String())
	}
	_, _ = s.Write([]byte("\x1b[?1049l")) // never fails
	if s.AltScreen() || s.String() != "shell$" {
		t.Errorf("after leaving: alt %v screen %q", s.AltScreen(), s.String())
	}
	if r, c := s.Cursor(); r != 0 || c != 7 {
		t.Errorf("cursor restored to %d,%d, want 0,7", r, c)
	}
}

// TestScreenOnRecordings renders real Claude Code output, fed in one piece
// and in pieces of every size from 1 to 64 bytes (cutting escape sequences
// and UTF-8), and checks what a person sees.
func TestScreenOnRecordings(t *testing.T) {
	for _, tc := range []struct {
		file string
		cols int
		want []string // text of rows that must be on screen, in order
	}{
		{"tpm-final-w40.raw", 40, []string{"❯ hello", "● API Error: Request rejected", "  (429) · Too many tokens,",
			"  please wait before trying", "  again.", "❯ Resend your message to try again"}},
		{"tpm-final-w80.raw", 80, []string{"● API Error: Request rejected (429) · Too many tokens, please wait", "  before trying again."}},
		{"tpm-final-w132.raw", 132, []string{"● API Error: Request rejected (429) · Too many tokens, please wait before trying again."}},
		{"continue-after-tpm-w80.raw", 80, []string{"❯ hello", "● API Error: Request rejected (429) · Too many tokens, please wait",
			"❯ hello again", "● Hello from the fake Bedrock."}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("../../launcher/detect/testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			// The TUI's last screen, before it leaves the alternate screen at exit.
			raw = raw[:bytes.LastIndex(raw, []byte("\x1b[?1049l"))]
			whole := ptytest.NewScreen(30, tc.cols)
			_, _ = whole.Write(raw) // never fails
			lines := whole.Lines()
			i := 0
			for _, l := range lines {
				// Contains: the input box puts a no-break space after ❯.
				if i < len(tc.want) && strings.Contains(l, strings.TrimPrefix(tc.want[i], "❯ ")) {
					i++
				}
			}
			if i < len(tc.want) {
				t.Errorf("row %q not found in order on screen:\n%s", tc.want[i], whole)
			}
			if !whole.AltScreen() {
				t.Errorf("not on the alternate screen")
			}
			for size := 1; size <= 64; size++ {
				s := ptytest.NewScreen(30, tc.cols)
				for off := 0; off < len(raw); off += size {
					_, _ = s.Write(raw[off:min(off+size, len(raw))]) // never fails
				}
				if diff := cmp.Diff(lines, s.Lines()); diff != "" {
					t.Fatalf("fed in pieces of %d bytes (-whole +pieces):\n%s", size, diff)
				}
			}
		})
	}
}

func TestScreenShows(t *testing.T) {
	s := ptytest.NewScreen(3, 10)
	_, _ = s.Write([]byte("API Error: Request")) // never fails
	if !s.Shows("Error: Request") || s.Shows("rejected") {
		t.Errorf("Shows wrong on %q", s.String())
	}
	if !strings.Contains(s.String(), "API Error:") {
		t.Errorf("screen %q", s.String())
	}
}

// BenchmarkScreen renders the recorded Claude Code sessions: go test
// -bench Screen ./internal/ptytest/ reports MB/s.
func BenchmarkScreen(b *testing.B) {
	files, _ := filepath.Glob("../../launcher/detect/testdata/*-w80.raw") // a bad pattern is impossible here
	var all []byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, raw...)
	}
	if len(all) == 0 {
		b.Fatal("no recordings")
	}
	b.SetBytes(int64(len(all)))
	for b.Loop() {
		s := ptytest.NewScreen(30, 80)
		_, _ = s.Write(all) // never fails
	}
}

// TestScreenResizeRecording replays the recording with a resize at the
// offset its .resize file gives, and checks the redraw at the new width.
func TestScreenResizeRecording(t *testing.T) {
	raw, err := os.ReadFile("../../launcher/detect/testdata/tpm-final-resize-w80-w60.raw")
	if err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile("../../launcher/detect/testdata/tpm-final-resize-w80-w60.resize")
	if err != nil {
		t.Fatal(err)
	}
	var off, rows, cols int
	if _, err := fmt.Sscanf(string(side), "%d %d %d", &off, &rows, &cols); err != nil {
		t.Fatalf("%s: %v", side, err)
	}
	raw = raw[:bytes.LastIndex(raw, []byte("\x1b[?1049l"))]
	s := ptytest.NewScreen(30, 80)
	_, _ = s.Write(raw[:off]) // never fails
	if !strings.Contains(s.String(), "● API Error: Request rejected (429) · Too many tokens, please wait\n  before trying again.") {
		t.Errorf("before the resize:\n%s", s)
	}
	s.Resize(rows, cols)
	_, _ = s.Write(raw[off:]) // never fails
	if !strings.Contains(s.String(), "● API Error: Request rejected (429) · Too many\n  tokens, please wait before trying again.") {
		t.Errorf("after the resize to %d columns:\n%s", cols, s)
	}
}
