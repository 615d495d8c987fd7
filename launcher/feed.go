package launcher

import (
	"time"

	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
)

// chunkSize is how much of claude's output one read takes.
const chunkSize = 32 * 1024

// The detector reads at most feedBudget bytes in each feedWindow (2.5 MB/s).
// Claude Code draws its screen at a few KB/s; only a flood of output (a
// huge file printed, say) goes past this, and then the detector skips the
// excess rather than take a CPU that the copy loop, claude and the terminal
// need.
const (
	feedWindow = 100 * time.Millisecond
	feedBudget = 256 << 10
)

// feed hands claude's output to the detector, in the copy loop, after the
// bytes have gone to the user's terminal, within the budget. A flood past
// the budget is skipped, and the detector is told so before it reads on:
// it loses track of the screen until claude draws it again, never the
// user's bytes.
//
// It runs in the copy loop rather than on a goroutine of its own: handing
// copies over a channel cost more than the reading saved. Measured on 50 MB
// of recorded TUI output through the launcher: 1.17-1.36 s with a detector
// goroutine, 1.12-1.16 s in the loop, 0.96-1.06 s for script(1); the wakeups
// of a second goroutine on a 2 vCPU AMD EPYC 2.25 GHz virtual machine were
// the difference. The detector's work within the budget is at most a few
// milliseconds in each window.
type feed struct {
	det     *detect.Detector
	now     func() time.Time // the clock: time.Now, a stepped one in tests
	skipped bool             // output was skipped since the detector last read

	windowStart time.Time
	windowBytes int
}

func newFeed(det *detect.Detector) *feed { return &feed{det: det, now: time.Now} }

// write gives p to the detector, or skips it when the budget is spent.
func (f *feed) write(p []byte) {
	if now := f.now(); now.Sub(f.windowStart) > feedWindow {
		f.windowStart, f.windowBytes = now, 0
	}
	f.windowBytes += len(p)
	if f.windowBytes > feedBudget {
		f.skipped = true // a flood: the detector skips it
		return
	}
	if f.skipped {
		f.skipped = false
		f.det.Lost() // what it would have read is gone: start afresh
	}
	f.det.Write(p)
}
