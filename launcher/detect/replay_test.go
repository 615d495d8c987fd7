package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

// recording is one file of testdata (see testdata/README.md) with what the
// detector must find in it.
type recording struct {
	file string
	// typed are the messages the user sent, in order; the replay calls
	// UserInput where each first shows on screen (its echo in the input
	// box), as the proxy would on Enter.
	typed []string
	// sentShows, when set, stands for typed: what first shows on screen
	// once each message was sent, on a terminal too short to show the
	// input box and what is typed in it.
	sentShows []string
	// replayed: the session was started with --continue, so the replay
	// calls Reset before feeding it, as the proxy does on a relaunch.
	replayed bool
	// want are the Final incidents, in order; Attempt and Of are not
	// compared (they depend on which frames share a read).
	want []Incident
	// maxOpen is how many incidents that never become Final are allowed.
	maxOpen int
	// never is a kind that must never be reported, not even in progress.
	never Kind
}

// resize is a change of the terminal's size at an offset of a recording,
// from the file's .resize sidecar (lines "<offset> <rows> <cols>").
type resize struct{ at, rows, cols int }

var recordings = []recording{
	{file: "tpm-final-w40.raw", typed: []string{"hello"}, want: finals(TokensPerMinute)},
	{file: "tpm-final-w80.raw", typed: []string{"hello"}, want: finals(TokensPerMinute)},
	{file: "tpm-final-w132.raw", typed: []string{"hello"}, want: finals(TokensPerMinute)},
	{file: "tpm-final-r5-w80.raw", typed: []string{"hello"}, sentShows: []string{"Brewing"}, want: finals(TokensPerMinute)},
	{file: "rpm-final-w80.raw", typed: []string{"hello"}, want: finals(RequestsPerMinute)},
	{file: "rate-final-w80.raw", typed: []string{"hello"}, want: finals(RequestsPerMinute)},
	{file: "tpd-final-w80.raw", typed: []string{"hello"}, want: finals(TokensPerDay), never: TokensPerMinute},
	{file: "unavailable-final-w80.raw", typed: []string{"hello"}, want: finals(ServiceUnavailable)},
	{file: "maxtokens-w80.raw", typed: []string{"hello"}, want: []Incident{{Seq: 1, Kind: CapTooLow, Final: true, Cap: 3000}}},
	{file: "maxtokens-w40.raw", typed: []string{"hello"}, want: []Incident{{Seq: 1, Kind: CapTooLow, Final: true, Cap: 3000}}},
	{file: "ok-w80.raw", typed: []string{"hello", "and again"}},
	{file: "ok-w40.raw", typed: []string{"hello"}},
	{file: "tpm-recovers-w80.raw", typed: []string{"hello"}, maxOpen: 1, never: TokensPerDay},
	{file: "tpm-twice-w80.raw", typed: []string{"hello", "hello again"}, want: finals(TokensPerMinute, TokensPerMinute)},
	{file: "continue-after-tpm-w80.raw", typed: []string{"hello again"}, replayed: true},
	{file: "tpm-final-then-ok-w80.raw", typed: []string{"hello", "hello again"}, want: finals(TokensPerMinute)},
	{file: "tpm-final-resize-w80-w60.raw", typed: []string{"hello"}, want: finals(TokensPerMinute)},
	{file: "tpm-final-w80-kitty.raw", typed: []string{"hello"}, want: finals(TokensPerMinute)},
	{file: "ok-w80-kitty.raw", typed: []string{"hello"}},
	{file: "long-reply-then-tpm-w80.raw", typed: []string{"tell me a long story", "hello"}, want: finals(TokensPerMinute)},
	// testdata/synthetic: see its README.
	{file: "synthetic/continue-then-tpm-w80.raw", typed: []string{"third message"}, replayed: true, want: finals(TokensPerMinute)},
	{file: "synthetic/tpm-final-w30.raw", typed: []string{"hello there"}, want: finals(TokensPerMinute)},
	{file: "synthetic/tpd-final-w40.raw", typed: []string{"hello there"}, want: finals(TokensPerDay), never: TokensPerMinute},
	{file: "synthetic/maxtokens-w24.raw", typed: []string{"hello there"}, want: []Incident{{Seq: 1, Kind: CapTooLow, Final: true, Cap: 3000}}},
	{file: "synthetic/unavailable-final-r3-w80.raw", typed: []string{"hello there"}, want: finals(ServiceUnavailable)},
	// The classic renderer (CLAUDE_CODE_NO_FLICKER=0): main screen, lines
	// printed and scrolled, a cursor jump for every space.
	{file: "synthetic/classic-tpm-final-w80.raw", typed: []string{"hello there"}, want: finals(TokensPerMinute)},
	{file: "synthetic/classic-tpd-final-w40.raw", typed: []string{"hello there"}, want: finals(TokensPerDay), never: TokensPerMinute},
	{file: "synthetic/classic-maxtokens-w80.raw", typed: []string{"hello there"}, want: []Incident{{Seq: 1, Kind: CapTooLow, Final: true, Cap: 3000}}},
	{file: "synthetic/classic-continue-then-tpm-w80.raw", typed: []string{"third message"}, replayed: true, want: finals(TokensPerMinute)},
}

func finals(kinds ...Kind) []Incident {
	var out []Incident
	for i, k := range kinds {
		out = append(out, Incident{Seq: i + 1, Kind: k, Final: true})
	}
	return out
}

var widthInName = regexp.MustCompile(`-w(\d+)(-[a-z0-9]+)*\.raw$`)

// resizes reads the recording's .resize sidecar, if it has one.
func (rc recording) resizes(t testing.TB) []resize {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", strings.TrimSuffix(rc.file, ".raw")+".resize"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []resize
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r resize
		if _, err := fmt.Sscan(line, &r.at, &r.rows, &r.cols); err != nil {
			t.Fatalf("%s.resize: %q: %v", rc.file, line, err)
		}
		out = append(out, r)
	}
	return out
}

// load reads a recording and finds where the user's messages appear.
func (rc recording) load(t testing.TB) (data []byte, cols int, inputs []int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", rc.file))
	if err != nil {
		t.Fatalf("recording missing: %v", err)
	}
	m := widthInName.FindStringSubmatch(rc.file)
	if m == nil {
		t.Fatalf("%s: no -wNN width in the name", rc.file)
	}
	cols, _ = strconv.Atoi(m[1]) // the pattern allows digits only
	from, shown := 0, rc.typed
	if rc.sentShows != nil {
		shown = rc.sentShows
	}
	for _, msg := range shown {
		at := firstShown(data, from, msg)
		if at < 0 {
			t.Fatalf("%s: typed message %q never shows on screen", rc.file, msg)
		}
		inputs = append(inputs, at)
		from = at
	}
	return data, cols, inputs
}

// firstShown returns the smallest n > from such that data[:n] shows msg
// after data[:from] (compared with ptytest.Squeeze, the reference
// normalisation), or -1.
func firstShown(data []byte, from int, msg string) int {
	needle := ptytest.Squeeze([]byte(msg))
	base := bytes.Count(ptytest.Squeeze(data[:from]), needle)
	if bytes.Count(ptytest.Squeeze(data), needle) <= base {
		return -1
	}
	lo, hi := from, len(data) // shows at hi, not at lo
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if bytes.Count(ptytest.Squeeze(data[:mid]), needle) > base {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// replay feeds data to a fresh detector in reads that end at each of cuts
// (sorted, may repeat), calling UserInput at each input offset, and
// returns everything it sent.
func replay(rc recording, data []byte, cols int, inputs, cuts []int, resizes ...resize) []Incident {
	d := New()
	d.Resize(cols, 30)
	if rc.replayed {
		d.Reset()
	}
	var got []Incident
	drain := func() {
		for {
			select {
			case inc := <-d.Incidents():
				got = append(got, inc)
			default:
				return
			}
		}
	}
	pos, ci, ii, ri := 0, 0, 0, 0
	for pos < len(data) {
		next := len(data)
		if ci < len(cuts) {
			next = min(next, cuts[ci])
		}
		if ii < len(inputs) {
			next = min(next, inputs[ii])
		}
		if ri < len(resizes) {
			next = min(next, resizes[ri].at)
		}
		if next > pos {
			d.Write(data[pos:next])
			drain()
			pos = next
		}
		for ci < len(cuts) && cuts[ci] <= pos {
			ci++
		}
		for ii < len(inputs) && inputs[ii] <= pos {
			d.UserInput()
			ii++
		}
		for ri < len(resizes) && resizes[ri].at <= pos {
			d.Resize(resizes[ri].cols, resizes[ri].rows)
			ri++
		}
	}
	d.Flush()
	drain()
	return got
}

// check compares what the detector sent with what the recording needs.
func (rc recording) check(got []Incident) error {
	var finals []Incident
	open := map[int]bool{}
	for _, inc := range got {
		if inc.Kind == KindNone {
			return fmt.Errorf("sent an incident without a kind: %+v", inc)
		}
		if rc.never != KindNone && inc.Kind == rc.never {
			return fmt.Errorf("reported %s: %+v", rc.never, inc)
		}
		if inc.Final {
			if open[inc.Seq] {
				delete(open, inc.Seq)
			}
			f := inc
			f.Attempt, f.Of = 0, 0
			finals = append(finals, f)
		} else {
			open[inc.Seq] = true
			for _, f := range finals {
				if f.Seq == inc.Seq {
					return fmt.Errorf("progress after the final of incident %d: %+v", inc.Seq, inc)
				}
			}
		}
	}
	if fmt.Sprint(finals) != fmt.Sprint(rc.want) {
		return fmt.Errorf("final incidents %+v, want %+v (all sent: %+v)", finals, rc.want, got)
	}
	if len(open) > rc.maxOpen {
		return fmt.Errorf("%d incidents never final, at most %d allowed (all sent: %+v)", len(open), rc.maxOpen, got)
	}
	return nil
}

// TestEveryRecordingIsListed keeps a new recording from being skipped.
func TestEveryRecordingIsListed(t *testing.T) {
	listed := map[string]bool{}
	for _, rc := range recordings {
		listed[rc.file] = true
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.raw"))
	more, _ := filepath.Glob(filepath.Join("testdata", "synthetic", "*.raw"))
	for _, f := range append(files, more...) {
		name := filepath.ToSlash(strings.TrimPrefix(f, "testdata"+string(filepath.Separator)))
		if !listed[name] {
			t.Errorf("%s is not in the recordings table: add what the detector must find in it", name)
		}
	}
	if len(files) < 14 {
		t.Errorf("only %d recordings in testdata", len(files))
	}
}

// TestRecordings replays every recording in one read, in reads of a few
// typical sizes, and split into two reads at every byte.
func TestRecordings(t *testing.T) {
	for _, rc := range recordings {
		t.Run(strings.TrimSuffix(rc.file, ".raw"), func(t *testing.T) {
			data, cols, inputs := rc.load(t)
			rs := rc.resizes(t)
			for _, size := range []int{1, 7, 64, 512, 4096} {
				var cuts []int
				for c := size; c < len(data); c += size {
					cuts = append(cuts, c)
				}
				if err := rc.check(replay(rc, data, cols, inputs, cuts, rs...)); err != nil {
					t.Errorf("reads of %d bytes: %v", size, err)
				}
			}
			if rc.replayed {
				// Without Reset too: the replay never shows the hint
				// that makes an error final.
				plain := rc
				plain.replayed = false
				if err := rc.check(replay(plain, data, cols, inputs, nil, rs...)); err != nil {
					t.Errorf("without Reset: %v", err)
				}
			}
			for split := 0; split <= len(data); split += splitStride {
				if err := rc.check(replay(rc, data, cols, inputs, []int{split}, rs...)); err != nil {
					t.Fatalf("two reads split at byte %d of %d: %v", split, len(data), err)
				}
			}
		})
	}
}

// TestRecordingsRandomSplits replays every recording cut into many reads at
// random places (seeded, so a failure can be reproduced).
func TestRecordingsRandomSplits(t *testing.T) {
	for _, rc := range recordings {
		t.Run(strings.TrimSuffix(rc.file, ".raw"), func(t *testing.T) {
			data, cols, inputs := rc.load(t)
			rs := rc.resizes(t)
			for seed := range uint64(200) {
				rng := rand.New(rand.NewPCG(seed, 42))
				cuts := []int{}
				for c := rng.IntN(200); c < len(data); c += 1 + rng.IntN(300) {
					cuts = append(cuts, c)
				}
				if err := rc.check(replay(rc, data, cols, inputs, cuts, rs...)); err != nil {
					t.Fatalf("seed %d, cuts %v: %v", seed, cuts, err)
				}
			}
		})
	}
}

// TestRecordingsProgress checks that the retrying lines are reported as
// one incident with its attempt counter, when reads are frame-sized.
func TestRecordingsProgress(t *testing.T) {
	rc := recordings[1] // tpm-final-w80
	data, cols, inputs := rc.load(t)
	rs := rc.resizes(t)
	var cuts []int
	for c := 64; c < len(data); c += 64 {
		cuts = append(cuts, c)
	}
	got := replay(rc, data, cols, inputs, cuts, rs...)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Attempt: 2, Of: 2},
		{Seq: 1, Kind: TokensPerMinute, Final: true, Attempt: 2, Of: 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sent %+v, want %+v", got, want)
	}
}
