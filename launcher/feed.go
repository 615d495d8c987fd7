package launcher

import (
	"sync/atomic"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// chunkSize is how much of claude's output one read takes.
const chunkSize = 32 * 1024

// feedChunks bounds the copies of output waiting for the detector: with
// chunkSize, at most 1 MiB, however much claude writes.
const feedChunks = 32

// feed hands copies of claude's output to the detector on a goroutine of
// its own, so that the detector's work never delays the next read of
// claude's output (with two cores it runs beside the copy loop). When the
// detector falls feedChunks behind — a flood of output — further copies are
// dropped and the detector is Reset before it reads on: it loses track of
// the screen until the user sends something, never the user's bytes.
type feed struct {
	det  *detect.Detector
	ch   chan []byte   // copies waiting for the detector
	free chan []byte   // buffers to reuse
	lost atomic.Bool   // a copy was dropped since the detector last read
	done chan struct{} // closed when the detector has read everything
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
			f.det.Reset() // what it would have read is gone: start afresh
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
