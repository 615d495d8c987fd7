package launcher

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestModeTrackerResetsWhatWasLeftOn(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"nothing", "plain text\r\n\x1b[31mred\x1b[0m", ""},
		{"switched off again", "\x1b[?1049h\x1b[?1000;1006h\x1b[?25l...\x1b[?1000;1006l\x1b[?25h\x1b[?1049l", ""},
		{"alt screen and mouse left on", "\x1b[?1049h\x1b[?1000h\x1b[?1002h\x1b[?1006hx", "\x1b[?1000l\x1b[?1002l\x1b[?1006l\x1b[?1049l"},
		{"hidden cursor and paste", "\x1b[?2004h\x1b[?25l", "\x1b[?2004l\x1b[?25h"},
		{"kitty keyboard pushed twice, popped once", "\x1b[>1u\x1b[>3u\x1b[<u", "\x1b[<1u"},
		{"kitty popped all", "\x1b[>1u\x1b[<5u", ""},
		{"focus events", "\x1b[?1004h", "\x1b[?1004l"},
		{"a control byte before the marker", "\x1b[\x00?1049h\x1b[\x88>u", "\x1b[<1u\x1b[?1049l"},
		{"colour-scheme reports", "\x1b[?2031h", "\x1b[?2031l"},
		{"colour-scheme reports switched off", "\x1b[?2004;2031h\x1b[?2031l", "\x1b[?2004l"},
		{"modifyOtherKeys 2", "\x1b[>4;2m", "\x1b[>4m"},
		{"modifyOtherKeys 1", "\x1b[>4;1mx", "\x1b[>4m"},
		{"modifyOtherKeys reset", "\x1b[>4;2m\x1b[>4m", ""},
		{"modifyOtherKeys set to 0", "\x1b[>4;2m\x1b[>4;0m", ""},
		{"modifyOtherKeys reset with all", "\x1b[>4;2m\x1b[>m", ""},
		{"other key modifier options", "\x1b[>1;2m\x1b[>0;1m", ""},
		{"other options do not reset it", "\x1b[>4;2m\x1b[>1m\x1b[>1;0m\x1b[4;0m\x1b[?4m", "\x1b[>4m"},
		{"as Claude Code starts on kitty", "\x1b[?25h\x1b[?2004h\x1b[?2031h\x1b[?1004h\x1b[?1049h\x1b[?1000h\x1b[?1002h\x1b[?1003h\x1b[?1006h\x1b[?25l\x1b[>0q\x1b[?u\x1b[<u\x1b[>5u\x1b[>4;2m",
			"\x1b[<1u\x1b[>4m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1006l\x1b[?2004l\x1b[?2031l\x1b[?25h\x1b[?1049l"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every split of the output into two writes gives the same answer.
			for i := 0; i <= len(tt.out); i++ {
				m := &modeTracker{}
				m.Write([]byte(tt.out[:i]))
				m.Write([]byte(tt.out[i:]))
				if got := string(m.resetSequence()); got != tt.want {
					t.Fatalf("split at %d: reset %q, want %q", i, got, tt.want)
				}
			}
			// And byte by byte.
			m := &modeTracker{}
			for i := 0; i < len(tt.out); i++ {
				m.Write([]byte{tt.out[i]})
			}
			if got := string(m.resetSequence()); got != tt.want {
				t.Fatalf("byte by byte: reset %q, want %q", got, tt.want)
			}
		})
	}
}

// TestModeTrackerSetsAgainWhatItReset: after a stop, setSequence switches on
// again what resetSequence switched off, the alternate screen first and
// modifyOtherKeys at the level claude chose.
func TestModeTrackerSetsAgainWhatItReset(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"nothing", "plain text", ""},
		{"modes", "\x1b[?1049h\x1b[?2004h\x1b[?2031h\x1b[?25l", "\x1b[?1049h\x1b[?25l\x1b[?2031h\x1b[?2004h"},
		{"modifyOtherKeys 2", "\x1b[>4;2m", "\x1b[>4;2m"},
		{"modifyOtherKeys 1", "\x1b[>4;2m\x1b[>4;1m", "\x1b[>4;1m"},
		{"modifyOtherKeys off", "\x1b[>4;1m\x1b[>4m", ""},
		{"kitty and modifyOtherKeys", "\x1b[?1049h\x1b[>5u\x1b[>4;2m", "\x1b[?1049h\x1b[>1u\x1b[>4;2m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &modeTracker{}
			m.Write([]byte(tt.out))
			if got := string(m.setSequence()); got != tt.want {
				t.Fatalf("set %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzModeTracker checks Write, which searches for the few sequences that
// matter, against the byte-at-a-time state machine alone, for any input cut
// anywhere into two writes.
func FuzzModeTracker(f *testing.F) {
	f.Add([]byte("\x1b[?1049h\x1b[?25l"), 3)
	f.Add([]byte("a > b ? c < d\x1b[?1049h\x1b[31m?\x1b[>1u<\x1b[<u>"), 9)
	f.Add([]byte("\x1b[?10\n49h\x1b[?2004\x1b[?1000h\x1b\x1b[?1006h"), 5)
	f.Add([]byte("\x1b[?1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;1049h\x1b[?1004h"), 20)
	f.Add([]byte("\x1b[>1u\x1b[>3u\x1b[<2u\x1b[<u\x1b[>u"), 11)
	f.Add([]byte("\x1b[\x88>u\x1b000000"), 0)
	f.Add([]byte("\x1b[>4;2m\x1b[?2031h\x1b[>4m\x1b[>m\x1b[>4;1m\x1b[>4;0m"), 7)
	if rec, err := os.ReadFile("detect/testdata/tpm-final-w80-kitty.raw"); err == nil {
		f.Add(rec, len(rec)/3)
	}
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		if split < 0 || split > len(b) {
			split = len(b) / 2
		}
		m, ref := &modeTracker{}, &modeTracker{}
		m.Write(b[:split])
		ref.scan(b[:split])
		if d := differ(m, ref); d != "" {
			t.Fatalf("Write of the first %d bytes: %s", split, d)
		}
		m.Write(b[split:])
		if m.n > maxSeq {
			t.Fatalf("params grew to %d", m.n)
		}
		ref.scan(b[split:])
		if d := differ(m, ref); d != "" {
			t.Fatalf("Write of all: %s", d)
		}
		_ = m.resetSequence() // must not panic
	})
}

// TestModeTrackerRecorded runs recordings of the real Claude Code through
// Write in reads of every size up to 64 bytes and in 4 KiB reads, and
// compares the result with the state machine alone.
func TestModeTrackerRecorded(t *testing.T) {
	files, _ := filepath.Glob("detect/testdata/*.raw")
	if len(files) == 0 {
		t.Fatal("no recordings in detect/testdata")
	}
	for _, f := range files {
		rec, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range append([]int{4096}, seq(1, 64)...) {
			m, ref := &modeTracker{}, &modeTracker{}
			for i := 0; i < len(rec); i += size {
				m.Write(rec[i:min(i+size, len(rec))])
				ref.scan(rec[i:min(i+size, len(rec))])
				if d := differ(m, ref); d != "" {
					t.Fatalf("%s in %d-byte reads, after %d bytes: %s", f, size, min(i+size, len(rec)), d)
				}
			}
		}
	}
}

// TestModeTrackerRecordedKilled: Claude Code killed on kitty before it
// switches anything off leaves on what the tracker resets, modifyOtherKeys
// and colour-scheme reports included; at its normal exit, nothing.
func TestModeTrackerRecordedKilled(t *testing.T) {
	rec, err := os.ReadFile("detect/testdata/ok-w80-kitty.raw")
	if err != nil {
		t.Fatal(err)
	}
	exit := bytes.Index(rec, []byte("\x1b[?1006l")) // the first mode it switches off on its way out
	if exit < 0 {
		t.Fatal("no exit in the recording")
	}
	const want = "\x1b[<1u\x1b[>4m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1006l\x1b[?2004l\x1b[?2031l\x1b[?25h\x1b[?1049l"
	m := &modeTracker{}
	m.Write(rec[:exit])
	if got := string(m.resetSequence()); got != want {
		t.Errorf("killed before its exit: reset %q, want %q", got, want)
	}
	m.Write(rec[exit:])
	if got := string(m.resetSequence()); got != "" {
		t.Errorf("after its exit: reset %q, want nothing", got)
	}
}

// differ says how the state Write reached differs from the state machine's,
// or "" when it does not.
func differ(m, ref *modeTracker) string {
	if m.on == ref.on && m.kitty == ref.kitty && m.otherKeys == ref.otherKeys && m.atGround() == ref.atGround() {
		return ""
	}
	return fmt.Sprintf("modes %v kitty %d modifyOtherKeys %d ground %v; the state machine: %v %d %d %v",
		m.on, m.kitty, m.otherKeys, m.atGround(), ref.on, ref.kitty, ref.otherKeys, ref.atGround())
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// BenchmarkModeTracker runs the tracker over recorded Claude Code output
// (its frames are wrapped in CSI ? 2026 h/l, its text dense with colours).
func BenchmarkModeTracker(b *testing.B) {
	rec, err := os.ReadFile("detect/testdata/ok-w80.raw")
	if err != nil {
		b.Fatal(err)
	}
	var chunk []byte
	for len(chunk) < 32*1024 {
		chunk = append(chunk, rec...)
	}
	chunk = chunk[:32*1024]
	b.SetBytes(int64(len(chunk)))
	m := &modeTracker{}
	for b.Loop() {
		m.Write(chunk)
	}
}

func TestModeIndexMatchesTrackedModes(t *testing.T) {
	for i, m := range trackedModes {
		if got := modeIndex(m); got != i {
			t.Errorf("modeIndex(%d) = %d, want %d", m, got, i)
		}
	}
	for _, m := range []int{0, 1, 4, 24, 26, 48, 999, 1001, 1007, 1048, 1050, 2026, 2030, 2032} {
		if got := modeIndex(m); got != -1 {
			t.Errorf("modeIndex(%d) = %d, want -1: not tracked", m, got)
		}
	}
}
