package launcher

import (
	"sync/atomic"
	"time"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// chunkSize is how much of claude's output one read takes.
const chunkSize = 32 * 1024

// feedChunks bounds the copies of output waiting for the detector (with
// chunkSize, 128 KiB). Claude Code's screen updates are a few KB at a time,
// far below it; only a flood of output (a huge file printed, say) fills it,
// and then the detector skips what it cannot keep up with instead of taking
// CPU from the copy loop on a machine with few cores.
const feedChunks = 4

// The detector reads at most feedBudget bytes in each feedWindow (2.5 MB/s).
// Claude Code draws its screen at a few KB/s; only a flood of output goes
// past this, and then the detector skips the excess rather than take a CPU
// the copy loop, claude and the terminal need (the detector costs about 20
// cycles a byte of TUI output; measured).
const (
	feedWindow = 100 * time.Millisecond
	feedBudget = 256 << 10
)

// feed hands copies of claude's output to the detector on a goroutine of
// its own, so that the detector's work never delays the next read of
// claude's output (with two cores it runs beside the copy loop). When the
// detector falls feedChunks behind — a flood of output — further copies are
// dropped and the detector is told so before it reads on: it loses track
// of the screen until claude draws it again, never the user's bytes.
type feed struct {
	det  *detect.Detector
	ch   chan []byte   // copies waiting for the detector
	free chan []byte   // buffers to reuse
	lost atomic.Bool   // a copy was dropped since the detector last read
	done chan struct{} // closed when the detector has read everything

	windowStart time.Time // the copy loop's budget window; only write touches these
	windowBytes int
}

func newFeed(det *detect.Detector) *feed {
	f := &feed{det: det, ch: make(chan []byte, feedChunks), free: make(chan []byte, feedChunks), done: make(chan struct{})}
	go f.run()
	return f
}

func (f *feed) run() {
	defer close(f.done)
	for b := range f.ch {
		if f.lost.Swap(false) {
			f.det.Lost() // what it would have read is gone: start afresh
		}
		f.det.Write(b)
		select {
		case f.free <- b:
		default: // enough spare buffers
		}
	}
}

// write queues a copy of p; it never blocks.
func (f *feed) write(p []byte) {
	if now := time.Now(); now.Sub(f.windowStart) > feedWindow {
		f.windowStart, f.windowBytes = now, 0
	}
	f.windowBytes += len(p)
	if f.windowBytes > feedBudget {
		f.lost.Store(true) // a flood: the detector skips it
		return
	}
	var b []byte
	select {
	case b = <-f.free:
	default:
		b = make([]byte, 0, chunkSize)
	}
	b = append(b[:0], p...)
	select {
	case f.ch <- b:
	default:
		f.lost.Store(true)
	}
}

// close says the output has ended; done is closed once the detector has
// read the rest.
func (f *feed) close() { close(f.ch) }
