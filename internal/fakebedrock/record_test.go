package fakebedrock_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

// recordDir is where the recordings go, relative to this package.
const recordDir = "../../launcher/detect/testdata"

// recordRoot holds the fixed HOME and project folder of the recorded
// sessions: the project path is drawn on screen, so a fixed one keeps
// re-recordings comparable at every width.
const recordRoot = "/tmp/claude-bedrock-record"

// recordCap is the CLAUDE_CODE_MAX_OUTPUT_TOKENS of every recorded session.
const recordCap = 3000

// recording is one recorded session of the real CLI.
type recording struct {
	name   string // file name without .raw
	cols   int
	fail   fakebedrock.Failure // what every turn gets (None: answered)
	args   []string
	play   func(t *testing.T, r *recorder)
	kitty  bool   // the terminal answers Claude Code's queries as kitty does (see answerAsKitty)
	typed  string // what was typed, for the README
	expect string // what the detector must find, for the README
}

// recorder is the state of one recording session.
type recorder struct {
	fake    *fakebedrock.Server
	tm      *ptytest.Term
	env     []string
	work    string
	resizes []string // "<offset> <rows> <cols>\n" per resize
}

const (
	rows        = 30
	waitLong    = 90 * time.Second
	waitShort   = 15 * time.Second
	quietPeriod = time.Second
)

// send types a message and Enter, once the prompt shows the text typed.
func (r *recorder) send(t *testing.T, msg string) {
	t.Helper()
	since := r.tm.Len()
	r.tm.Write(msg)
	r.tm.WaitForScreenSince(t, since, msg, waitShort)
	r.tm.Write("\r")
}

// settle waits for text (after offset since) and for the screen to stop changing.
func (r *recorder) settle(t *testing.T, since int, text string) {
	t.Helper()
	r.tm.WaitForScreenSince(t, since, text, waitLong)
	r.tm.WaitQuiet(t, quietPeriod, waitLong)
}

// resize changes the terminal size and notes where in the output it
// happened in <name>.resize, since the raw file alone does not say.
func (r *recorder) resize(t *testing.T, rows, cols int) {
	t.Helper()
	r.resizes = append(r.resizes, fmt.Sprintf("%d %d %d\n", r.tm.Len(), rows, cols))
	r.tm.Resize(rows, cols)
}

// quit ends the session the way a user does: Ctrl-C twice.
func (r *recorder) quit(t *testing.T) {
	t.Helper()
	since := r.tm.Len()
	r.tm.Write("\x03")
	r.tm.WaitForScreenSince(t, since, "Press Ctrl-C again to exit", waitShort)
	r.tm.Write("\x03")
	if code := r.tm.Wait(t, waitShort); code != 0 {
		t.Errorf("claude exited %d after two Ctrl-C, want 0", code)
	}
}

// finalError plays one message that fails until the CLI gives up.
func finalError(marker string) func(t *testing.T, r *recorder) {
	return func(t *testing.T, r *recorder) {
		since := r.tm.Len()
		r.send(t, "hello")
		r.settle(t, since, marker)
		r.quit(t)
	}
}

const (
	tpmFinal = "API Error: Request rejected (429) · Too many tokens, please wait before trying again."
	reply    = "Hello from the fake Bedrock."
)

// longReply is an answer long enough to scroll for a while: numbered
// sentences in paragraphs, ending with a marker the recorder waits for.
var longReply = func() string {
	var b strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&b, "Sentence %d of the long story, with some words to wrap the line. ", i)
		if i%10 == 0 {
			b.WriteString("\n\n")
		}
	}
	b.WriteString("The end of the long story.")
	return b.String()
}()

func recordings() []recording {
	var rs []recording
	for _, w := range []int{40, 80, 132} {
		rs = append(rs, recording{
			name: fmt.Sprintf("tpm-final-w%d", w), cols: w, fail: fakebedrock.TooManyTokens,
			play: finalError(tpmFinal), typed: "`hello`, Enter; after the final error Ctrl-C twice",
			expect: "1 incident, tokens per minute (429 `Too many tokens`): retrying lines, then the final `API Error`",
		})
	}
	rs = append(rs,
		recording{
			name: "rpm-final-w80", cols: 80, fail: fakebedrock.TooManyRequests,
			play:   finalError("API Error: Request rejected (429) · Too many requests"),
			typed:  "`hello`, Enter; after the final error Ctrl-C twice",
			expect: "1 incident, requests per minute (429 `Too many requests`)",
		},
		recording{
			name: "rate-final-w80", cols: 80, fail: fakebedrock.RateTooHigh,
			play:   finalError("Your request rate is too high"),
			typed:  "`hello`, Enter; after the final error Ctrl-C twice",
			expect: "1 incident, requests per minute (429 `Your request rate is too high. Reduce the frequency of requests.`)",
		},
		recording{
			name: "tpd-final-w80", cols: 80, fail: fakebedrock.TooManyTokensPerDay,
			play:   finalError("Too many tokens per day"),
			typed:  "`hello`, Enter; after the final error Ctrl-C twice",
			expect: "1 incident, tokens per day (429 `Too many tokens per day`): not tokens per minute",
		},
		recording{
			name: "unavailable-final-w80", cols: 80, fail: fakebedrock.Unavailable,
			play:   finalError("Bedrock is unable to process your request"),
			typed:  "`hello`, Enter; after the final error Ctrl-C twice",
			expect: "1 incident, service unavailable (503 `Bedrock is unable to process your request`)",
		},
		recording{
			name: "maxtokens-w80", cols: 80, fail: fakebedrock.MaxTokens,
			play:   finalError("output token maximum"),
			typed:  "`hello`, Enter; after the error Ctrl-C twice",
			expect: fmt.Sprintf("1 incident, cap too low: `Claude's response exceeded the %d output token maximum`", recordCap),
		},
		recording{
			name: "maxtokens-w40", cols: 40, fail: fakebedrock.MaxTokens,
			play:   finalError("output token maximum"),
			typed:  "`hello`, Enter; after the error Ctrl-C twice",
			expect: fmt.Sprintf("1 incident, cap too low (%d), wrapped over several rows", recordCap),
		},
		recording{
			name: "ok-w80", cols: 80,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, reply)
				since = r.tm.Len()
				r.send(t, "and again")
				r.tm.WaitForScreenCount(t, reply, 2, waitLong)
				r.tm.WaitQuiet(t, quietPeriod, waitLong)
				r.quit(t)
			},
			typed:  "`hello`, Enter, answer; `and again`, Enter, answer; Ctrl-C twice",
			expect: "none",
		},
		recording{
			name: "ok-w40", cols: 40,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, reply)
				r.quit(t)
			},
			typed:  "`hello`, Enter, answer; Ctrl-C twice",
			expect: "none",
		},
		recording{
			name: "tpm-recovers-w80", cols: 80, fail: fakebedrock.TooManyTokens,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				// Two refusals (the first try and the first retry), then Bedrock has room again.
				r.fake.WaitTurns(t, 2, waitLong)
				r.tm.WaitForScreenSince(t, since, "Too many tokens", waitLong)
				r.fake.Heal()
				r.settle(t, since, reply)
				r.quit(t)
			},
			typed: "`hello`, Enter; the fake refuses the first two attempts and answers the third; Ctrl-C twice",
			expect: "no final error; the retrying lines show `429 Too many tokens` (an incident only for a detector that " +
				"offers early when throttling persists across retries; at most 1)",
		},
		recording{
			name: "tpm-twice-w80", cols: 80, fail: fakebedrock.TooManyTokens,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, tpmFinal)
				since = r.tm.Len()
				r.send(t, "hello again")
				r.tm.WaitForScreenCount(t, "Request rejected (429)", 2, waitLong)
				r.tm.WaitQuiet(t, quietPeriod, waitLong)
				r.quit(t)
			},
			typed:  "`hello`, Enter, final error; `hello again`, Enter, final error; Ctrl-C twice",
			expect: "2 incidents, both tokens per minute",
		},
		recording{
			name: "tpm-final-then-ok-w80", cols: 80, fail: fakebedrock.TooManyTokens,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, tpmFinal)
				r.fake.Heal()
				since = r.tm.Len()
				r.send(t, "hello again")
				r.settle(t, since, reply)
				r.quit(t)
			},
			typed:  "`hello`, Enter, final error; the fake heals; `hello again`, Enter, answer; Ctrl-C twice",
			expect: "1 incident, tokens per minute; nothing after the answer",
		},
		recording{
			name: "long-reply-then-tpm-w80", cols: 80,
			play: func(t *testing.T, r *recorder) {
				r.fake.SetReply(longReply)
				since := r.tm.Len()
				r.send(t, "tell me a long story")
				r.settle(t, since, "The end of the long story.")
				r.fake.SetReply("")
				r.fake.Throttle(0)
				since = r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, tpmFinal)
				r.quit(t)
			},
			typed: "`tell me a long story`, Enter, a long answer (about 3,000 words, scrolled through); " +
				"then the fake throttles; `hello`, Enter, final error; Ctrl-C twice",
			expect: "1 incident, tokens per minute. The answer scrolls the start of the session off the screen; " +
				"the TUI draws only the visible rows, so the whole session is still only about 12 KB",
		},
		recording{
			name: "tpm-final-resize-w80-w60", cols: 80, fail: fakebedrock.TooManyTokens,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, tpmFinal)
				r.resize(t, rows, 60)
				r.tm.WaitQuiet(t, quietPeriod, waitLong)
				r.quit(t)
			},
			typed: "`hello`, Enter, final error; then the terminal is resized to 60 columns " +
				"(the byte offset is in `tpm-final-resize-w80-w60.resize`: `<offset> <rows> <cols>`) and the CLI " +
				"redraws everything; Ctrl-C twice",
			expect: "1 incident: the redraw after the resize shows the same final error again, it is not a new one",
		},
		recording{
			name: "tpm-final-w80-kitty", cols: 80, fail: fakebedrock.TooManyTokens, kitty: true,
			play: finalError(tpmFinal), typed: "as tpm-final-w80, on a terminal that answers like kitty",
			expect: "1 incident, tokens per minute; every frame is wrapped in synchronized-output marks",
		},
		recording{
			name: "ok-w80-kitty", cols: 80, kitty: true,
			play: func(t *testing.T, r *recorder) {
				since := r.tm.Len()
				r.send(t, "hello")
				r.settle(t, since, reply)
				r.quit(t)
			},
			typed:  "`hello`, Enter, answer; Ctrl-C twice, on a terminal that answers like kitty",
			expect: "none",
		},
		recording{
			name: "continue-after-tpm-w80", cols: 80, args: []string{"--continue"},
			play: func(t *testing.T, r *recorder) {
				// The screen replays the earlier, throttled conversation first.
				r.settle(t, 0, tpmFinal)
				since := r.tm.Len()
				r.send(t, "hello again")
				r.settle(t, since, reply)
				r.quit(t)
			},
			typed: "nothing before the replay; then `hello again`, Enter, answer; Ctrl-C twice. " +
				"Before it, an unrecorded session in the same HOME and folder: `hello` throttled to the final error (as tpm-final-w80)",
			expect: "none: the `API Error … (429)` on screen is the replayed old conversation, not a new incident",
		},
	)
	return rs
}

// TestRecord records raw PTY output of the real Claude Code against the fake
// into launcher/detect/testdata. It runs only with CLAUDE_BEDROCK_RECORD=1;
// CLAUDE_BEDROCK_RECORD_ONLY=name,name limits it to some recordings (README:
// the README only).
func TestRecord(t *testing.T) {
	if os.Getenv("CLAUDE_BEDROCK_RECORD") != "1" {
		t.Log("set CLAUDE_BEDROCK_RECORD=1 to record the real CLI into " + recordDir)
		return
	}
	only := map[string]bool{}
	for _, n := range strings.Split(os.Getenv("CLAUDE_BEDROCK_RECORD_ONLY"), ",") {
		if n != "" {
			only[n] = true
		}
	}
	if err := os.MkdirAll(recordDir, 0o755); err != nil {
		t.Fatal(err)
	}
	all := recordings()
	for _, rc := range all {
		if len(only) > 0 && !only[rc.name] {
			continue
		}
		t.Run(rc.name, func(t *testing.T) {
			out, resizes := record(t, rc)
			if len(out) > 512*1024 {
				t.Errorf("%s is %d bytes; keep recordings well under 1 MB", rc.name, len(out))
			}
			path := filepath.Join(recordDir, rc.name+".raw")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes", path, len(out))
			if len(resizes) > 0 {
				if err := os.WriteFile(filepath.Join(recordDir, rc.name+".resize"), []byte(strings.Join(resizes, "")), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if len(only) == 0 || only["README"] {
		writeReadme(t, all)
	}
}

func record(t *testing.T, rc recording) (out []byte, resizes []string) {
	if err := os.RemoveAll(recordRoot); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(recordRoot) }) // best effort: /tmp
	home := filepath.Join(recordRoot, "home")
	work := filepath.Join(recordRoot, "project")
	for _, d := range []string{home, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	claudetest.WriteConfig(t, home, work)
	fake := fakebedrock.New(t, fakebedrock.WithFailure(rc.fail, 0))
	env := append(claudetest.Env(home, fake.URL(), "us-west-2"),
		"ANTHROPIC_MODEL=haiku", fmt.Sprintf("CLAUDE_CODE_MAX_OUTPUT_TOKENS=%d", recordCap))

	if len(rc.args) > 0 && rc.args[0] == "--continue" {
		// The earlier session that --continue replays: throttled to the end.
		tm := ptytest.Start(t, claudetest.Command(t, env, work), rows, rc.cols)
		r := &recorder{fake: fake, tm: tm, env: env, work: work}
		fake.Throttle(0)
		tm.WaitForScreen(t, "for shortcuts", waitLong)
		finalError(tpmFinal)(t, r)
		fake.Heal()
	}

	tm := ptytest.Start(t, claudetest.Command(t, env, work, rc.args...), rows, rc.cols)
	r := &recorder{fake: fake, tm: tm, env: env, work: work}
	if rc.kitty {
		answerAsKitty(t, tm)
	}
	tm.WaitForScreen(t, "for shortcuts", waitLong)
	rc.play(t, r)
	t.Logf("requests:\n%s", fakebedrock.Summary(fake.Requests()))
	return tm.Output(), r.resizes
}

// answerAsKitty answers Claude Code's start-up terminal queries as a modern
// terminal (kitty 0.40) does: XTVERSION, the kitty keyboard protocol flags,
// primary device attributes, then synchronized output (DECRQM 2026), SGR
// pixel mouse (DECRQM 1016) and the cell size. Told all that, Claude Code
// turns on the kitty keyboard protocol and modifyOtherKeys and wraps every
// frame in ESC[?2026h … ESC[?2026l.
func answerAsKitty(t *testing.T, tm *ptytest.Term) {
	t.Helper()
	tm.WaitFor(t, "\x1b[c", waitLong)
	tm.Write("\x1bP>|kitty(0.40.0)\x1b\\" + "\x1b[?0u" + "\x1b[?62;c")
	tm.WaitFor(t, "\x1b[?2026$p", waitLong)
	tm.Write("\x1b[?2026;2$y" + "\x1b[?1016;2$y" + "\x1b[6;20;10t" + "\x1b[?62;c")
}

func writeReadme(t *testing.T, all []recording) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Recorded output of the real Claude Code, for the throttling detector

Each `+"`*.raw`"+` file is the raw byte stream a terminal received from Claude Code
%s (the pinned version, `+"`internal/claudetest.Version`"+`), running interactively on a
pseudo-terminal of %d rows and the width in its name (`+"`-w80`"+`: 80 columns), from its
start to its exit. Nothing was changed or filtered: escape sequences, cursor jumps
in place of spaces, redraws, the alternate screen, the terminal queries Claude
Code sends at start (`+"`ESC[>0q`, `ESC[?u`, `ESC]7501;?`, `ESC[c`"+`, left unanswered) and the
`+"`Resume this session with: claude --resume <uuid>`"+` lines it prints after leaving
the alternate screen.

How they were made: `+"`CLAUDE_BEDROCK_RECORD=1 go test ./internal/fakebedrock/ -run TestRecord -v`"+`
(`+"`CLAUDE_BEDROCK_RECORD_ONLY=name,name`"+` for some), which runs the pinned CLI through
`+"`internal/ptytest`"+` against the loopback fake Bedrock of `+"`internal/fakebedrock`"+`, with
a fresh HOME (`+"`%s/home`"+`, onboarding done, project trusted), the project folder
`+"`%s/project`"+`, and this environment (`+"`claudetest.Env`"+`):
`+"`CLAUDE_CODE_USE_BEDROCK=1 CLAUDE_CODE_SKIP_BEDROCK_AUTH=1 AWS_REGION=us-west-2`"+`
`+"`ANTHROPIC_MODEL=haiku CLAUDE_CODE_MAX_OUTPUT_TOKENS=%d CLAUDE_CODE_MAX_RETRIES=%d`"+`
`+"`CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 TERM=xterm-256color`"+`.
The fake answers the start-up probes (`+"`/invoke`"+`, max_tokens 1) normally and every
turn (`+"`/invoke-with-response-stream`"+`, max_tokens %d) as the table says, with
Bedrock's exact status, `+"`x-amzn-ErrorType`"+` and message. With %d retries the CLI tries
each message 3 times (first try, then `+"`attempt 1/2`, `attempt 2/2`"+`) before its final
`+"`API Error`"+`. Re-recording changes times of day, session IDs and the spinner's random verbs
(`+"`Brewed`, `Misting…`"+`); nothing else of substance.

| file | fake answers every turn with | typed | the detector must find |
|---|---|---|---|
`, claudetest.Version, rows, recordRoot, recordRoot, recordCap, claudetest.MaxRetries, recordCap, claudetest.MaxRetries)
	for _, rc := range all {
		fail := rc.fail.String()
		if m := rc.fail.Message(); m != "" {
			fail = fmt.Sprintf("%d `%s`", rc.fail.Status(), m)
		} else if rc.fail == fakebedrock.MaxTokens {
			fail = "200, `stop_reason: \"max_tokens\"`"
		} else {
			fail = "200, text `" + reply + "`"
		}
		if rc.kitty {
			fail += " (terminal answers like kitty)"
		}
		if len(rc.args) > 0 {
			fail += " (this session run as `claude " + strings.Join(rc.args, " ") + "`)"
		}
		fmt.Fprintf(&b, "| `%s.raw` | %s | %s | %s |\n", rc.name, fail, rc.typed, rc.expect)
	}
	b.WriteString(`
What the screen shows, measured on these files (see also
` + "`shared/reference/claude-code-on-bedrock.md`" + `):
- While retrying, one spinner line is redrawn in place (cells, not lines). The first retry
  names no kind: ` + "`✻ API error · retrying in 1s · attempt 1/2`" + `. The next one does, cut
  with ` + "`…`" + ` to the width: ` + "`✻ 429 Too many tokens, please wait before tryi… · retrying in 2s · attempt 2/2`" + `
  at 80 columns. At 40 columns the kind is cut to ` + "`429 Too m…`" + ` and the line wraps; only the cells that
  changed since ` + "`attempt 1/2`" + ` are rewritten, so ` + "`attempt 2/2`" + ` never appears in one piece in the stream.
  Retrying lines and the final error are one incident.
- The final 429 error is ` + "`● API Error: Request rejected (429) · <Bedrock's message>`" + `, wrapped
  over several rows at narrow widths (4 rows at 40 columns), followed by the input box hint
  ` + "`Resend your message to try again`" + `.
- A 503 reads differently: ` + "`● API Error: 503 Bedrock is unable to process your request. This is a server-side issue, usually temporary — try again in a moment. If it persists, check your Amazon Bedrock service status.`" + `
  (no ` + "`Request rejected`" + `, no parentheses).
- ` + "`stop_reason: \"max_tokens\"`" + `: the CLI does not give up at once. It sent 4 requests (the turn and
  3 automatic continuations, all at max_tokens 3000), drew the partial answers, then
  ` + "`● API Error: Claude's response exceeded the 3000 output token maximum. To configure this behavior, set the CLAUDE_CODE_MAX_OUTPUT_TOKENS environment variable.`" + `
- ` + "`--continue`" + ` replays the old conversation, final error included, without its retrying lines.
- After two Ctrl-C the CLI leaves the alternate screen and prints, as plain lines,
  ` + "`Resume this session with:`" + ` and ` + "`claude --resume <uuid>`" + `.
- Claude Code queries the terminal at start (` + "`ESC[>0q`, `ESC[?u`, `ESC]7501;?`, `ESC[c`" + `). Left
  unanswered (all files but ` + "`*-kitty.raw`" + `) it draws without synchronized output. The ` + "`*-kitty.raw`" + `
  files were made with the test answering as kitty 0.40 does (` + "`answerAsKitty`" + ` in the
  recorder); Claude Code then asks more (` + "`ESC[?2026$p`, kitty graphics, `ESC[16t`, `ESC[?1016$p`" + `),
  pushes the kitty keyboard protocol (` + "`ESC[>5u`" + `) and modifyOtherKeys (` + "`ESC[>4;2m`" + `), and wraps
  every frame in ` + "`ESC[?2026h … ESC[?2026l`" + `. The answers are input, so they are not in the files.
- A match must ignore escape sequences and whitespace: ` + "`ptytest.Squeeze`" + ` is a reference
  normalisation (drop escape sequences, control characters and spaces on both sides).
`)
	if err := os.WriteFile(filepath.Join(recordDir, "README.md"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
