package launcher

import (
	"os"
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

func FuzzModeTracker(f *testing.F) {
	f.Add([]byte("\x1b[?1049h\x1b[?25l"), 3)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		m := &modeTracker{}
		if split < 0 || split > len(b) {
			split = len(b) / 2
		}
		m.Write(b[:split])
		m.Write(b[split:])
		if m.n > maxSeq {
			t.Fatalf("params grew to %d", m.n)
		}
		_ = m.resetSequence() // must not panic
	})
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
