// Package detect watches a copy of Claude Code's terminal output for
// Bedrock throttling (tokens per minute, requests per minute, tokens per
// day), service unavailability and a too-low output cap, and says which.
//
// # Use
//
// The PTY proxy writes each chunk read from claude to the user's terminal
// first and then to a Detector, calls Resize with the PTY size at start and
// on SIGWINCH, UserInput when the user presses Enter (a '\r' on stdin, or
// "ESC [ 13 u" once Claude Code has turned on the kitty keyboard protocol
// on a terminal that has it), and Reset before it
// starts claude again with --continue or --resume. It reads what the
// detector finds from Incidents, which never blocks the writer:
//
//	det := detect.New()
//	det.Resize(cols, rows)
//	...
//	n, err := ptmx.Read(buf)
//	os.Stdout.Write(buf[:n])
//	det.Write(buf[:n])
//	...
//	case inc := <-det.Incidents(): // inc.Seq groups the updates of one failure
//
// For output that is not on a terminal (claude -p into a pipe) use
// NewPlain and call Flush at the end.
//
// # Why it tracks the screen
//
// Claude Code's TUI does not print lines: it redraws cells. Cursor jumps
// stand where spaces were, only the cells that changed are rewritten (the
// retry counter going from "attempt 1/2" to "attempt 2/2" is one byte "2"
// after a cursor jump), messages wrap over several rows at narrow widths,
// and the line naming the kind is cut with "…" to the width. A streaming
// normaliser (drop escape sequences and blanks, search the rest, wait for
// the end of the sentence, the same gating on user input) was measured
// against the 28 recordings of the real CLI in testdata
// (TestCompareNormaliser): it reads the final errors as well as the screen
// does (28 of 28), but it saw the last retry counter in 1 of 12 recordings
// where the screen sees 12 of 12, and it glues rewritten cells into
// counters such as "attempt 1/3221429", which would make an early offer on
// "attempt 3 of N" fire at random. Nor can it tell an old error redrawn in
// place from a new one. So the detector keeps a minimal terminal emulator:
// one byte per cell, fixed size (at most 1024×512), nothing allocated after
// New and Resize, and reads the rows that changed, where they changed, once
// per frame (Claude Code starts each frame from cursor-home) and at the end
// of each write.
//
// Speed, measured with perf stat on the benchmarks (cycles and
// instructions of N iterations minus one, so setup does not count), on a
// 2 vCPU AMD EPYC 2.25 GHz virtual machine shared with other work: its
// load moves cycles per byte by half, so these are medians of ten
// interleaved runs, with instructions per byte, which the load does not
// change.
//
//   - Bulk text (BenchmarkDetectorBulkText: 8 MiB of Go source in 32 KiB
//     writes): 1.2–1.4 cycles (2.4 instructions) per byte, about 1.7 GB/s
//     at 2.25 GHz. Text that scrolls off the screen within one write is
//     skipped exactly, never drawn.
//   - Plain output (BenchmarkDetectorPlain, NewPlain on the same source
//     with LF line ends): 4.8–5.0 cycles (10.4 instructions), about
//     460 MB/s. Lines that fit in a row and cannot hold "API Error:" are
//     skipped the same way (skipLines); what remains is reading each byte,
//     eight at a time, to know that, and finding the colons.
//   - Claude Code's TUI output (BenchmarkDetectorRecorded: the recordings,
//     80×30, 4 KiB writes): 14–15 cycles (34 instructions), about
//     155 MB/s. 44% of it is escape sequences, one CSI every 12 bytes,
//     each of which must be run to know where the next character lands,
//     and the rows each frame changed are read, where they changed, at
//     every cursor-home: about 13,000 sequences, characters and runs of
//     text in 68 KB, at some 70 cycles each, reading included.
//
// The byte-at-a-time normaliser of the tests takes 26 and 32 instructions
// per byte on the recordings and on bulk text. Claude Code's TUI writes
// kilobytes per second, so the cost there is far below a thousandth of a
// core; bulk output is where throughput matters.
//
// # What makes an incident
//
// See Detector. In short: the retrying line ("… · retrying in 3s · attempt
// 2/10") opens an incident and updates it; Claude Code giving up shows
// "API Error: …" in the conversation and "Resend your message to try
// again" in the input box, and that hint, which a --continue replay never
// shows, makes it Final. After a Final incident only UserInput lets a new
// one start.
package detect
