package detect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkBounds fails if the detector's state is larger than New and Resize
// made it, or the cursor left the screen.
func checkBounds(t *testing.T, d *Detector, cols, rows int) {
	t.Helper()
	s := d.scr
	if s.cols != cols || s.rows != rows || len(s.lines) != rows || len(s.ringLines) != 2*rows ||
		len(s.meta) != rows || len(s.ringMeta) != 2*rows || len(s.blank) != cols {
		t.Fatalf("screen is %dx%d with %d lines, %d ring rows; want %dx%d", s.cols, s.rows, len(s.lines), len(s.ringLines), cols, rows)
	}
	for r, line := range s.lines {
		if len(line) != cols || cap(line) != cols {
			t.Fatalf("row %d has len %d cap %d, want %d", r, len(line), cap(line), cols)
		}
	}
	if cap(d.sq) != maxWindow {
		t.Fatalf("scratch grew to %d bytes, bound %d", cap(d.sq), maxWindow)
	}
	if s.x < 0 || s.x >= cols || s.y < 0 || s.y >= rows || s.top < 0 || s.bot >= rows || s.top > s.bot {
		t.Fatalf("cursor %d,%d or region %d-%d outside %dx%d", s.y, s.x, s.top, s.bot, rows, cols)
	}
	if len(d.ch) > queueLen {
		t.Fatalf("%d incidents queued, bound %d", len(d.ch), queueLen)
	}
}

// FuzzDetector feeds arbitrary output, cut into two writes, to a detector
// of arbitrary size: it must not panic, its state must stay within its
// bounds, and the screen must not depend on where the output was cut, nor
// on a resize there.
func FuzzDetector(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.raw"))
	more, _ := filepath.Glob(filepath.Join("testdata", "synthetic", "*.raw"))
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(80), uint16(30), uint16(len(data)/2))
	}
	f.Add([]byte("\x1b[5;3r\x1b[2S\x1b[?1049h日本\x1b[Kx\x1b]0;t\x07\r\n"), uint16(3), uint16(2), uint16(5))
	var plain []byte
	for i, line := range plainPieces {
		plain = append(plain, strings.Repeat(line, 1+i%3)...)
	}
	f.Add(plain, uint16(80), uint16(30), uint16(len(plain)/3))
	f.Fuzz(func(t *testing.T, data []byte, cols, rows, cut uint16) {
		c := 1 + int(cols)%300
		r := 1 + int(rows)%100
		k := int(cut) % (len(data) + 1)

		c2, r2 := 1+int(cols)*7%300, 1+int(rows)*3%100 // the size after a SIGWINCH at the cut
		d := New()
		d.Resize(c, r)
		d.Write(data[:k])
		d.UserInput()
		d.Resize(c2, r2)
		d.Write(data[k:])
		d.Flush()
		checkBounds(t, d, c2, r2)

		// The emulator alone, byte by byte, must draw the same screen,
		// also when the terminal is resized where the output was cut.
		bytewise := newScreen(c, r)
		for i := range data {
			if i == k {
				bytewise.resize(c2, r2)
			}
			bytewise.write(data[i : i+1])
		}
		whole := newScreen(c, r)
		whole.write(data[:k])
		if k < len(data) {
			whole.resize(c2, r2)
		}
		whole.write(data[k:])
		if diff := cmp.Diff(dumpScreen(bytewise), dumpScreen(whole)); diff != "" {
			t.Fatalf("screen depends on the writes (-byte by byte +whole):\n%s", diff)
		}

		// What the detector reads of each row where it changed is what
		// the whole row holds.
		for r := range d.scr.rows {
			attempt, resend := d.rowWords(r)
			if wa, wr := anchors(d.scr.lines[r]); attempt != wa || resend != wr {
				t.Fatalf("row %d %q: rowWords says %v, %v; the row holds %v, %v", r, d.scr.text(r), attempt, resend, wa, wr)
			}
		}

		// Plain output read in two writes, which may skip lines, and a
		// byte at a time, which never does, must read the same.
		p, ref := NewPlain(), NewPlain()
		p.Write(data[:k])
		p.Write(data[k:])
		p.Flush()
		for i := range data {
			ref.Write(data[i : i+1])
		}
		ref.Flush()
		checkBounds(t, p, plainCols, plainRows)
		if diff := cmp.Diff(drain(ref), drain(p)); diff != "" {
			t.Fatalf("plain incidents depend on the writes (-byte by byte +two writes):\n%s", diff)
		}
		if diff := cmp.Diff(plainState(ref.scr), plainState(p.scr)); diff != "" {
			t.Fatalf("plain screen depends on the writes (-byte by byte +two writes):\n%s", diff)
		}
	})
}

// TestWriteDoesNotAllocate: after New, feeding output allocates nothing,
// so memory stays what New allocated however long the session runs.
func TestWriteDoesNotAllocate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "tpm-twice-w80.raw"))
	if err != nil {
		t.Fatal(err)
	}
	bulk := goSource(t, 1<<20)
	lines := bytes.ReplaceAll(bulk, []byte("\r\n"), []byte("\n"))
	d := New()
	d.Resize(80, 30)
	p := NewPlain()
	allocs := testing.AllocsPerRun(20, func() {
		for i := 0; i < len(data); i += 100 {
			d.Write(data[i:min(i+100, len(data))])
			d.UserInput()
			for len(d.Incidents()) > 0 {
				<-d.Incidents()
			}
		}
		d.Write(bulk)
		p.Write(lines)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run of %d bytes, want 0", allocs, len(data)+len(bulk))
	}
	checkBounds(t, d, 80, 30)
	d.Resize(5000, 5000)
	checkBounds(t, d, maxCols, maxRows)
}
