package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests draw the screens Claude Code draws, the way it draws them:
// from home, with cursor jumps where there are spaces, rows continued with
// CR + cursor movements, and only changed cells rewritten.

const (
	home   = "\x1b[H\r"
	park   = "\x1b[30;1H\x1b[28;3H" // where Claude Code leaves the cursor after a frame
	sgrRed = "\x1b[38;5;211m"
	sgrOff = "\x1b[39m"
)

// at moves from home to row r (0-based), column c.
func at(r, c int) string {
	s := home
	if c > 0 {
		s += fmt.Sprintf("\x1b[%dC", c)
	}
	if r > 0 {
		s += fmt.Sprintf("\x1b[%dB", r)
	}
	return s
}

// message draws "● " and the rows of a message from row r, continuation
// rows indented by two as Claude Code does.
func message(r int, rows ...string) string {
	s := at(r, 0) + "\x1b[38;5;220m●\x1b[3G" + sgrOff
	for i, row := range rows {
		if i > 0 {
			s += "\r\x1b[2C\x1b[1B"
		}
		// Spaces become cursor jumps, as in the real output.
		s += strings.ReplaceAll(row, "  ", "\x1b[2C")
	}
	return s + park
}

// hint draws the input box with the hint shown after Claude Code gives up.
func hint(r int) string {
	return at(r, 0) + "❯\u00a0\x1b[7mR\x1b[27m\x1b[2mesend your message to try again\x1b[22m" + park
}

// spinner draws the retrying line at row r.
func spinner(r int, text string) string {
	return at(r, 0) + sgrRed + "✻\x1b[3G" + text + sgrOff + park
}

// run feeds chunks to a new detector of the given width (30 rows) and
// returns what it sent. Each chunk is one Write; "\x00input" in chunks
// stands for the user pressing Enter, "\x00reset" for a relaunch.
func run(t *testing.T, cols int, chunks ...string) []Incident {
	t.Helper()
	d := New()
	d.Resize(cols, 30)
	var got []Incident
	for _, c := range chunks {
		switch c {
		case "\x00input":
			d.UserInput()
		case "\x00reset":
			d.Reset()
		default:
			if n, err := d.Write([]byte(c)); n != len(c) || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(c))
			}
		}
	loop:
		for {
			select {
			case inc := <-d.Incidents():
				got = append(got, inc)
			default:
				break loop
			}
		}
	}
	return got
}

func TestFinalKinds(t *testing.T) {
	tests := []struct {
		name string
		cols int
		rows []string
		want []Incident
	}{
		{"tokens per minute", 80, []string{
			"API Error: Request rejected (429) · Too many tokens, please wait",
			"before trying again."},
			[]Incident{{Seq: 1, Kind: TokensPerMinute, Final: true}}},
		{"requests per minute", 80, []string{
			"API Error: Request rejected (429) · Too many requests, please wait",
			"before trying again."},
			[]Incident{{Seq: 1, Kind: RequestsPerMinute, Final: true}}},
		{"request rate too high", 80, []string{
			"API Error: Request rejected (429) · Your request rate is too high.",
			"Reduce the frequency of requests."},
			[]Incident{{Seq: 1, Kind: RequestsPerMinute, Final: true}}},
		{"tokens per day wrapped between tokens and per day", 40, []string{
			"API Error: Request rejected",
			"(429) · Too many tokens",
			"per day, please wait before trying",
			"again."},
			[]Incident{{Seq: 1, Kind: TokensPerDay, Final: true}}},
		{"service unavailable", 80, []string{
			"API Error: 503 Bedrock is unable to process your request. This is a",
			"server-side issue, usually temporary — try again in a moment."},
			[]Incident{{Seq: 1, Kind: ServiceUnavailable, Final: true}}},
		{"cap too low", 80, []string{
			"API Error: Claude's response exceeded the 4096 output token maximum.",
			"To configure this behavior, set the CLAUDE_CODE_MAX_OUTPUT_TOKENS",
			"environment variable."},
			[]Incident{{Seq: 1, Kind: CapTooLow, Final: true, Cap: 4096}}},
		{"cap too low, number broken over two rows", 20, []string{
			"API Error:",
			"Claude's response",
			"exceeded the 12",
			"8000 output token",
			"maximum."},
			[]Incident{{Seq: 1, Kind: CapTooLow, Final: true, Cap: 128000}}},
		{"an error that is none of ours", 80, []string{
			"API Error: Connection error."},
			nil},
		{"a bare 429", 80, []string{
			"API Error: Request rejected (429)"},
			[]Incident{{Seq: 1, Kind: TokensPerMinute, Final: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.cols, message(12, tt.rows...)+hint(27))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("incidents (-want +got):\n%s", diff)
			}
			// The same screen fed at every split into two writes.
			all := message(12, tt.rows...) + hint(27)
			for i := range len(all) + 1 {
				got := run(t, tt.cols, all[:i], all[i:])
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("split at %d: incidents (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestErrorWithoutHintIsNotFinal(t *testing.T) {
	// The final line alone is what a --continue replay shows: no incident.
	got := run(t, 80, message(12, "API Error: Request rejected (429) · Too many tokens, please wait"))
	if len(got) != 0 {
		t.Errorf("incidents %+v, want none", got)
	}
}

func TestProgressIsOneIncident(t *testing.T) {
	got := run(t, 80,
		spinner(24, "API error · retrying in 1s · attempt 1/10"),
		// Only the cells that change are rewritten.
		at(24, 2)+"429"+"\x1b[7GToo many tokens, please wait before tryi… · retrying in 2s · attempt 2/10"+park,
		at(24, 62)+"1"+park, // countdown: nothing new
		at(24, 75)+"3"+park, // attempt 3/10, written as the one changed cell
		at(24, 75)+"3"+park, // the same again
		message(12, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.")+
			at(24, 0)+"\x1b[K"+hint(27),
		// A redraw of the whole screen (a resize) shows the same again.
		"\x1b[2J"+message(12, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.")+hint(27),
	)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Attempt: 2, Of: 10},
		{Seq: 1, Kind: TokensPerMinute, Attempt: 3, Of: 10},
		{Seq: 1, Kind: TokensPerMinute, Final: true, Attempt: 3, Of: 10},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestProgressWrappedAtNarrowWidth(t *testing.T) {
	// At 40 columns the spinner line wraps after "attempt" and the kind is
	// cut to "429 Too m…": the kind is not known yet, so nothing is sent
	// until the final line names it.
	got := run(t, 40,
		spinner(23, "429 Too m… · retrying in 3s · attempt")+at(24, 2)+"2/3"+park,
		at(24, 2)+"3"+park,
		message(12, "API Error: Request rejected", "(429) · Too many requests, please", "wait before trying again.")+hint(27),
	)
	want := []Incident{{Seq: 1, Kind: RequestsPerMinute, Final: true, Attempt: 3, Of: 3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestTruncatedSpinnerNeverSaysPerMinute(t *testing.T) {
	for _, cut := range []string{"429 Too many tokens…", "429 Too many tokens p…", "429 Too many tokens per…", "429 Too many tok…", "429 Too…"} {
		got := run(t, 80,
			spinner(24, cut+" · retrying in 2s · attempt 2/10"),
			message(12, "API Error: Request rejected (429) · Too many tokens per day, please", "wait before trying again.")+hint(27),
		)
		want := []Incident{{Seq: 1, Kind: TokensPerDay, Final: true, Attempt: 2, Of: 10}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("spinner %q: incidents (-want +got):\n%s", cut, diff)
		}
	}
	got := run(t, 80, spinner(24, "429 Too many tokens per day, please wait bef… · retrying in 2s · attempt 2/10"))
	if diff := cmp.Diff([]Incident{{Seq: 1, Kind: TokensPerDay, Attempt: 2, Of: 10}}, got); diff != "" {
		t.Errorf("per day spinner: incidents (-want +got):\n%s", diff)
	}
}

func TestRetriesStartingOverIsANewIncident(t *testing.T) {
	got := run(t, 80,
		spinner(24, "429 Too many tokens, please wait before tryi… · retrying in 2s · attempt 2/10"),
		// The retry succeeded; the spinner changes to thinking, then a
		// later request of the same turn is throttled again.
		spinner(24, "Whirlpooling…\x1b[K"),
		spinner(24, "429 Too many requests, please wait before tr… · retrying in 1s · attempt 1/10"),
	)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Attempt: 2, Of: 10},
		{Seq: 2, Kind: RequestsPerMinute, Attempt: 1, Of: 10},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestNewIncidentNeedsUserInput(t *testing.T) {
	final := message(12, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.") + hint(27)
	typed := at(27, 0) + "❯\u00a0hello again\x1b[K" + park
	got := run(t, 80,
		final,
		typed, final, // drawn again without the user sending anything
		"\x00input", typed+"\x1b[2J", final,
	)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Final: true},
		{Seq: 2, Kind: TokensPerMinute, Final: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

// Hints counts each drawing of the Resend hint that the detector reads,
// those of a repaint that makes no incident included: the launcher waits
// on it to know that claude has drawn an old final error again.
func TestHintsCountRepaints(t *testing.T) {
	final := message(12, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.") + hint(27)
	d := New()
	d.Resize(80, 30)
	var got []int
	for _, c := range []string{
		at(5, 0) + "working" + park,
		final,
		"\x1b[2J" + final, // a repaint after a resize
		"\x00input",
		"\x1b[2J" + at(27, 0) + "❯\u00a0next\x1b[K" + park,
	} {
		if c == "\x00input" {
			if !d.HintShown() {
				t.Error("HintShown false with the hint on screen")
			}
			d.UserInput()
			continue
		}
		d.Write([]byte(c))
		got = append(got, d.Hints())
	}
	if diff := cmp.Diff([]int{0, 1, 2, 2}, got); diff != "" {
		t.Errorf("Hints after each write (-want +got):\n%s", diff)
	}
	if n := len(d.Incidents()); n != 1 {
		t.Errorf("%d incidents, want 1: a repaint is no new one", n)
	}
	if d.HintShown() {
		t.Error("HintShown true after the user sent something")
	}
}

// On a terminal too short to show the input box, a final error is read
// where claude was retrying, and there is no hint that a repaint would
// draw again: HintShown says so, after an earlier final error whose hint
// showed too.
func TestHintShownNotOnATinyTerminal(t *testing.T) {
	d := New()
	d.Resize(80, 5)
	d.Write([]byte(message(1, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.") + hint(4)))
	if !d.HintShown() {
		t.Fatal("HintShown false with the hint on screen")
	}
	d.UserInput()
	d.Write([]byte("\x1b[2J" + spinner(2, "429 Too many tokens, please wait before tryi… · retrying in 2s · attempt 2/10")))
	d.Write([]byte(at(2, 0) + "\x1b[K" + message(2, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.")))
	var got []Incident
	for len(d.Incidents()) > 0 {
		got = append(got, <-d.Incidents())
	}
	if len(got) != 3 || !got[2].Final || got[2].Seq != 2 {
		t.Fatalf("incidents %+v, want a final one, then another", got)
	}
	if d.HintShown() {
		t.Error("HintShown true for a final error read where claude was retrying")
	}
}

func TestResetIgnoresReplay(t *testing.T) {
	final := message(12, "API Error: Request rejected (429) · Too many tokens, please wait", "before trying again.") + hint(27)
	got := run(t, 80,
		final,
		"\x00reset", "\x1b[?1049h\x1b[2J", final, // the relaunched claude shows the old screen
		"\x00input", at(27, 0)+"❯\u00a0next\x1b[K"+park,
		message(18, "API Error: Claude's response exceeded the 2048 output token maximum.")+hint(27),
	)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Final: true},
		{Seq: 2, Kind: CapTooLow, Final: true, Cap: 2048},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestEscapeSequencesAreNotText(t *testing.T) {
	// Text inside OSC (title, hyperlink target), DCS and APC strings is
	// never on screen; CSI parameters are not text either.
	got := run(t, 80,
		"\x1b]0;API Error: Request rejected (429) · Too many tokens\x07",
		"\x1bPqAPI Error: Too many tokens Resend your message to try again\x1b\\",
		"\x1b_Resend your message\x1b\\",
		"\x1b]8;;https://x/Resend your message to try again\x1b\\link\x1b]8;;\x1b\\",
		"\x1b[?1049h\x1b[?2004h\x1b[>4;2m\x1b[ q\x1b[2 q",
		at(20, 0)+"Resend your message to try again"+park,
	)
	if len(got) != 0 {
		t.Errorf("incidents %+v, want none: only the last row shows the hint, with no error above", got)
	}
}

func TestWideCharactersKeepColumns(t *testing.T) {
	// A wide character takes two cells: the partial update at column 40
	// must land on the digit of the attempt counter.
	line := "429 Too many tokens, 日本 please wa… · retrying in 2s · attempt 2/10"
	col := 2
	for _, r := range line[:strings.Index(line, "2/10")] {
		col += runeWidth(r)
	}
	got := run(t, 80, spinner(24, line), at(24, col)+"4"+park)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Attempt: 2, Of: 10},
		{Seq: 1, Kind: TokensPerMinute, Attempt: 4, Of: 10},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestAutowrappedTextAndScrolling(t *testing.T) {
	// Plain lines pushed through the terminal, the last wrapped by the
	// terminal at 40 columns, then more output scrolls the screen; the
	// hint at the bottom and the error above it are read where they end up.
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %d of some tool output\r\n", i)
	}
	b.WriteString("● API Error: Request rejected (429) · Too many requests, please wait before trying again.\r\n")
	for i := range 3 {
		fmt.Fprintf(&b, "after %d\r\n", i)
	}
	b.WriteString("❯ Resend your message to try again")
	got := run(t, 40, b.String()+park)
	want := []Incident{{Seq: 1, Kind: RequestsPerMinute, Final: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestPlain(t *testing.T) {
	out := "Some answer text.\n" + sgrRed + "API Error: Request rejected (429) · Too many tokens, please wait before trying again." + sgrOff + "\n" +
		"API Error: Claude's response exceeded the 3000 output token maximum. To configure this behavior, set the CLAUDE_CODE_MAX_OUTPUT_TOKENS environment variable.\n" +
		"API Error: Connection error.\n" +
		"API Error: Request rejected (429) · Too many tokens per day, please wait before trying again."
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Final: true},
		{Seq: 2, Kind: CapTooLow, Final: true, Cap: 3000},
		{Seq: 3, Kind: TokensPerDay, Final: true},
	}
	for i := range len(out) + 1 {
		d := NewPlain()
		d.Write([]byte(out[:i]))
		d.Write([]byte(out[i:]))
		d.Flush()
		d.Flush() // twice: still one incident per line
		var got []Incident
		for len(d.Incidents()) > 0 {
			got = append(got, <-d.Incidents())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("split at %d: incidents (-want +got):\n%s", i, diff)
		}
	}
}

func TestSendNeverBlocks(t *testing.T) {
	d := New()
	// 100 retries, every other one a counter starting over (a new
	// failure): 51 incidents, 100 values, none read.
	for i := range 100 {
		a := 2 - i%2
		d.Write([]byte(spinner(24, fmt.Sprintf("429 Too many tokens, please wait before tryi… · retrying in 1s · attempt %d/10", a))))
	}
	if n := len(d.Incidents()); n != queueLen {
		t.Fatalf("%d incidents waiting, want %d", n, queueLen)
	}
	var last Incident
	for len(d.Incidents()) > 0 {
		last = <-d.Incidents()
	}
	if want := (Incident{Seq: 51, Kind: TokensPerMinute, Attempt: 1, Of: 10}); last != want {
		t.Errorf("last incident waiting is %+v, want the newest, %+v", last, want)
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{KindNone: "none", TokensPerMinute: "tokens_per_minute", RequestsPerMinute: "requests_per_minute",
		TokensPerDay: "tokens_per_day", ServiceUnavailable: "service_unavailable", CapTooLow: "cap_too_low", Kind(99): "unknown", Kind(-1): "unknown"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), k.String(), s)
		}
	}
}

// TestScreenSplitInvariance checks the emulator's shortcuts (runs of text,
// whole CSI sequences, whole UTF-8 characters, skipping scrolled text)
// against its byte-at-a-time path: the screen must be the same however the
// output is cut into writes.
func TestScreenSplitInvariance(t *testing.T) {
	pieces := []string{"hello ", "wörld ", "日本 ", "…", "\r\n", "\r\n", "\r\n", "\n", "\r", "\t", "\b", "\x1b[2C", "\x1b[1B", "\x1b[3A",
		"\x1b[10G", "\x1b[5;7H", "\x1b[H", "\x1b[K", "\x1b[1K", "\x1b[2J", "\x1b[J", "\x1b[31m", "\x1b[38;5;174m", "\x1b[2L",
		"\x1b[M", "\x1b[3P", "\x1b[2@", "\x1b[4X", "\x1b[2S", "\x1b[T", "\x1b[3;8r", "\x1b[r", "\x1b7", "\x1b8", "\x1bM",
		"\x1b]0;title\x07", "\x1b]8;;u\x1b\\", "\x1b[?7l", "\x1b[?7h", "\x1b[?1049h", "\x1b[?1049l", "\x1b(B", "\x1b[3b",
		strings.Repeat("abcdefghij", 9), "\xff", "\xe2\x94", "\x80", "\x1b[?h", "\xe0\x82\xa0", "\xe0\x8c\x80",
		"\x1b[?1;2;3;4;5;6;7;8;9;1;2;3;4;5;6;10;49h"} // 17 parameters: the 17th is dropped, never glued to the 16th
	rng := rand.New(rand.NewPCG(7, 7))
	for iter := range 300 {
		var b strings.Builder
		for range 200 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if iter%3 == 0 { // bulk text, to take the scrolled-text shortcut
			for i := range 120 {
				fmt.Fprintf(&b, "bulk line %d\r\n", i)
			}
		}
		data := []byte(b.String())
		whole := newScreen(37, 11)
		whole.write(data)
		bytewise := newScreen(37, 11)
		for i := range data {
			bytewise.write(data[i : i+1])
		}
		if diff := cmp.Diff(dumpScreen(bytewise), dumpScreen(whole)); diff != "" {
			t.Fatalf("iteration %d: screen differs (-byte by byte +whole):\n%s\ninput %q", iter, diff, data)
		}
	}
}

func dumpScreen(s *screen) []string {
	out := []string{fmt.Sprintf("cursor %d,%d", s.y, s.x)}
	for r := range s.rows {
		out = append(out, s.text(r))
	}
	return out
}

// TestScreen pins the emulator's behaviour for the sequences it knows, on a
// 6×4 screen, against what xterm shows.
func TestScreen(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // rows, then the cursor as "cursor y,x"
	}{
		{"autowrap and scroll", "abcdefgh\r\n12\r\n34\r\n56", []string{"gh", "12", "34", "56", "cursor 3,2"}},
		{"no autowrap", "\x1b[?7labcdefgh", []string{"abcdeh", "", "", "", "cursor 0,5"}},
		{"pending wrap then CR", "abcdef\rX", []string{"Xbcdef", "", "", "", "cursor 0,1"}},
		{"cursor moves", "\x1b[3;4Hx\x1b[2Ay\x1b[5Dz\x1b[1B\x1b[3Cw\x1b[4Gv\x1b[2dq", []string{"z   y", "   vq", "   x", "", "cursor 1,5"}},
		{"erase", "abcdef\r\n123456\x1b[1;3H\x1b[K\x1b[2;3H\x1b[1K", []string{"ab", "   456", "", "", "cursor 1,2"}},
		{"erase below", "aaaaaa\r\nbbbbbb\r\ncccccc\x1b[2;3H\x1b[J", []string{"aaaaaa", "bb", "", "", "cursor 1,2"}},
		{"insert and delete chars", "abcdef\x1b[1;2H\x1b[2@\x1b[2;1Habcdef\x1b[2;2H\x1b[2P\x1b[3X", []string{"a  bcd", "a", "", "", "cursor 1,1"}},
		{"region scroll", "1\r\n2\r\n3\r\n4\x1b[2;3r\x1b[3;1H\nX", []string{"1", "3", "X", "4", "cursor 2,1"}},
		{"insert and delete lines", "1\r\n2\r\n3\r\n4\x1b[2;1H\x1b[L\x1b[4;1H\x1b[M", []string{"1", "", "2", "", "cursor 3,0"}},
		{"scroll up and down", "1\r\n2\r\n3\r\n4\x1b[2S\x1b[T", []string{"", "3", "4", "", "cursor 3,1"}},
		{"reverse index at top", "1\r\n2\x1b[H\x1bMx", []string{"x", "1", "2", "", "cursor 0,1"}},
		{"save and restore", "ab\x1b7\r\n\r\ncd\x1b8e\x1b[s\x1b[4;1Hf\x1b[ug", []string{"abeg", "", "cd", "f", "cursor 0,4"}},
		{"tab and backspace", "a\tb\bc", []string{"a   cb", "", "", "", "cursor 0,5"}},
		{"wide characters", "a日b\r\n12345日", []string{"a▪▪b", "12345", "▪▪", "", "cursor 2,2"}},
		{"repeat", "x\x1b[3b", []string{"xxxx", "", "", "", "cursor 0,4"}},
		// The main screen is not kept: the detector only reads what is
		// drawn after the switch.
		{"alternate screen", "abc\x1b[?1049hX\x1b[?1049lY", []string{"   Y", "", "", "", "cursor 0,4"}},
		{"strings and charsets skipped", "a\x1b]0;t\x07b\x1bPq#\x1b\\c\x1b(Bd\x1b%Ge", []string{"abcde", "", "", "", "cursor 0,5"}},
		{"malformed utf-8", "a\xe2\x94b\xffc", []string{"a▪b▪c", "", "", "", "cursor 0,5"}},
		// Overlong forms of no-break space and a combining mark: one
		// replacement character each, as the decoder reads them.
		{"overlong utf-8", "a\xe0\x82\xa0b\xe0\x8c\x80c", []string{"a▪b▪c", "", "", "", "cursor 0,5"}},
		{"private mode without a number", "\x1b[?1049lab\x1b[?h", []string{"ab", "", "", "", "cursor 0,2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScreen(6, 4)
			s.write([]byte(tt.in))
			got := dumpScreen(s)
			got = append(got[1:], got[0])
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("screen (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecoveredThenAnotherFailure(t *testing.T) {
	retrying := spinner(24, "429 Too many tokens, please wait before tryi… · retrying in 2s · attempt 2/10")
	var answer []string
	for i := range goneFrames + 2 { // the answer streams in, frame by frame
		answer = append(answer, at(14+i%8, 2)+fmt.Sprintf("answer line %d", i)+park)
	}
	chunks := []string{retrying, at(24, 0) + "\x1b[K" + park}
	chunks = append(chunks, answer...)
	chunks = append(chunks, message(12, "API Error: Claude's response exceeded the 3000 output token maximum.")+hint(27))
	got := run(t, 80, chunks...)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Attempt: 2, Of: 10},
		{Seq: 2, Kind: CapTooLow, Final: true, Cap: 3000},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestEnterWhileRetryingKeepsTheIncident(t *testing.T) {
	// The user queues a message while Claude Code retries, and the
	// retrying line blinks out between two attempts.
	got := run(t, 80,
		spinner(24, "429 Too many tokens, please wait before tryi… · retrying in 2s · attempt 2/10"),
		"\x00input",
		at(24, 0)+"\x1b[K"+park,
		spinner(24, "429 Too many tokens, please wait before tryi… · retrying in 4s · attempt 3/10"),
		message(12, "API Error: Request rejected (429) · Too many tokens, please wait")+at(24, 0)+"\x1b[K"+hint(27),
	)
	want := []Incident{
		{Seq: 1, Kind: TokensPerMinute, Attempt: 2, Of: 10},
		{Seq: 1, Kind: TokensPerMinute, Attempt: 3, Of: 10},
		{Seq: 1, Kind: TokensPerMinute, Final: true, Attempt: 3, Of: 10},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestFinalSeenAtOnceWhenClaudeGoesIdle(t *testing.T) {
	// The classic renderer prints lines and leaves the cursor in the input
	// box, on the hint's row, with a move up: no more output follows until
	// the user types, so the detector must not wait for any.
	frame := "\x1b[38;5;220m●\x1b[3G\x1b[39mAPI\x1b[7GError:\x1b[14GRequest\x1b[22Grejected\x1b[31G(429)\x1b[37G·\x1b[39GToo\x1b[43Gmany\x1b[48Gtokens,\r\r\n" +
		"\x1b[2Cplease\x1b[10Gwait\r\r\n\r\r\n" +
		"\x1b[38;5;244m────────\x1b[39m\r\r\n" +
		"❯\u00a0\x1b[7mR\x1b[27m\x1b[2mesend\x1b[10Gyour\x1b[15Gmessage\x1b[23Gto\x1b[26Gtry\x1b[30Gagain\x1b[22m\r\r\n" +
		"\x1b[38;5;244m────────\x1b[39m\r\r\n" +
		"\x1b[2C\x1b[38;5;246m?\x1b[5Gfor\x1b[9Gshortcuts\x1b[39m\r\x1b[2C\x1b[2A"
	got := run(t, 80, frame)
	if diff := cmp.Diff([]Incident{{Seq: 1, Kind: TokensPerMinute, Final: true}}, got); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}

func TestPlainLongLineWraps(t *testing.T) {
	d := NewPlain()
	line := strings.Repeat("x", plainCols-6) + " API Error: Request rejected (429) · Too many requests, please wait before trying again.\n"
	d.Write([]byte(strings.Repeat("ok\n", 20) + line))
	if got := len(d.Incidents()); got != 1 {
		t.Fatalf("%d incidents, want 1", got)
	}
	if inc := <-d.Incidents(); inc.Kind != RequestsPerMinute || !inc.Final {
		t.Errorf("incident %+v, want a final requests_per_minute", inc)
	}
}

// After Lost the detector still counts a failure drawn afresh, without
// waiting for the user (unlike Reset).
func TestLostStaysArmed(t *testing.T) {
	d := New()
	d.Resize(80, 24)
	d.Write([]byte("garbage \x1b[5;5H half a screen"))
	d.Lost()
	d.Write([]byte("\x1b[2J\x1b[H● API Error: Request rejected (429) · Too many tokens, please wait before trying again.\r\n\r\n❯ Resend your message to try again\r\n"))
	d.Flush()
	select {
	case inc := <-d.Incidents():
		if inc.Kind != TokensPerMinute || !inc.Final {
			t.Errorf("incident %+v", inc)
		}
	default:
		t.Error("no incident after Lost")
	}
	d.Reset()
	d.Write([]byte("\x1b[2J\x1b[H● API Error: Request rejected (429) · Too many tokens, please wait before trying again.\r\n\r\n❯ Resend your message to try again\r\n"))
	d.Flush()
	select {
	case inc := <-d.Incidents():
		t.Errorf("after Reset an old screen counted: %+v", inc)
	default:
	}
}
