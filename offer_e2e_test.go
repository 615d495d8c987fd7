package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/incidents"
	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
	"github.com/claude-bedrock/claude-bedrock/launcher"
)

// readIncidents returns the incident record under home.
func readIncidents(t *testing.T, home string) []incidents.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(home, ".local/state/claude-bedrock/incidents.jsonl"))
	if err != nil {
		t.Fatalf("incident record: %v", err)
	}
	defer f.Close()
	var out []incidents.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var inc incidents.Record
		if err := json.Unmarshal(sc.Bytes(), &inc); err != nil {
			t.Fatalf("incident record line %q: %v", sc.Text(), err)
		}
		out = append(out, inc)
	}
	return out
}

func TestRealClaudeThrottledOfferRelaunchKeepsConversation(t *testing.T) {
	for _, width := range []int{80, 132, 50} {
		t.Run("width"+itoa(width), func(t *testing.T) {
			w := newRealWorld(t)
			w.fake.Throttle(2048) // Bedrock refuses reservations above 2048 output tokens
			cmd := execLauncher(w.env, "+code")
			cmd.Dir = w.dir
			term := ptytest.Start(t, cmd, 40, width)
			term.WaitForScreen(t, tuiReady, 60*time.Second)
			term.Type("remember pineapple", 10*time.Millisecond)
			term.Write("\r")

			// Claude Code retries, gives up, and the launcher offers half the cap.
			term.WaitForScreen(t, "4096", 90*time.Second)
			term.WaitForScreen(t, "2048?", 30*time.Second) // every length of the banner asks this
			if got := w.fake.Turns(); len(got) == 0 || got[0].MaxTokens != 4096 {
				t.Fatalf("turns before the offer: %s", fakebedrock.Summary(got))
			}
			time.Sleep(launcher.OfferArming) // sooner, a key is typing, not an answer
			mark := term.Len()
			term.Write("y")
			term.WaitForScreenSince(t, mark, "cap 4096 -> 2048", 30*time.Second)
			term.WaitForScreenSince(t, mark, tuiReady, 60*time.Second)

			before := len(w.fake.Turns())
			term.Type("what fruit", 10*time.Millisecond)
			term.Write("\r")
			turns := w.fake.WaitTurns(t, before+1, 60*time.Second)
			last := turns[len(turns)-1]
			if last.MaxTokens != 2048 {
				t.Errorf("after the relaunch max_tokens = %d, want 2048", last.MaxTokens)
			}
			joined := strings.Join(last.UserTexts, "\n")
			if !strings.Contains(joined, "remember pineapple") || !strings.Contains(joined, "what fruit") {
				t.Errorf("the conversation did not carry over: user messages %q", last.UserTexts)
			}
			term.WaitForScreenSince(t, mark, fakebedrock.DefaultReply, 30*time.Second)
			if n := strings.Count(string(ptytest.Squeeze(term.Output()[mark:])), "2048?"); n != 0 {
				t.Errorf("offered again after the relaunch (%d times): the replayed error is not a new incident", n)
			}

			waitIdle(t, term)
			quitClaude(t, term)
			if m := term.Mode(t); !m.Sane() {
				t.Errorf("terminal not restored: %+v", m)
			}
			rec := readIncidents(t, w.home)
			if len(rec) != 1 || rec[0].Kind != "tokens_per_minute" || rec[0].Choice != "relaunch" || rec[0].Cap != 4096 || rec[0].Profile != "code" {
				t.Errorf("incident record %+v", rec)
			}
		})
	}
}

// waitIdle waits until claude has ended its turn. Its answer on screen is
// not enough: on a busy machine it is drawn before the turn ends, and a
// Ctrl-C then interrupts the request instead of asking for a second one
// to quit. The footer shows "? for shortcuts", or the launcher's status
// line in its place.
func waitIdle(t *testing.T, term *ptytest.Term) {
	t.Helper()
	term.WaitForScreenState(t, "claude idle", func(s *ptytest.Screen) bool {
		return (s.Shows("? for shortcuts") || s.Shows(tuiReady)) && !s.Shows("esc to interrupt")
	}, 60*time.Second)
}

// quitClaude ends an idle interactive claude as a user does, with two
// Ctrl-C in a row, and checks that it exits 0.
func quitClaude(t *testing.T, term *ptytest.Term) {
	t.Helper()
	term.Write("\x03")
	term.WaitForScreen(t, "Ctrl-C again", 10*time.Second)
	term.Write("\x03")
	if code := term.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestRealClaudePrintThrottledHint(t *testing.T) {
	w := newRealWorld(t)
	w.fake.Throttle(2048)
	// claude alone, for the bytes it writes to stdout
	wantOut, _, wantCode := claudetest.Run(t, append(append([]string{}, w.env...), "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", "ANTHROPIC_MODEL=sonnet", "AWS_REGION=us-west-2"), t.TempDir(), 90*time.Second, "--settings", `{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"4096","ANTHROPIC_MODEL":"sonnet","AWS_REGION":"us-west-2"}}`, "-p", "hi")
	// The user's own --settings holds a secret; stdin is a pipe.
	out, stderr, code := runLauncher(t, w.env, w.dir, "", "-p", "hi", "--settings", `{"env":{"MY_API_TOKEN":"s3cr3t-token"}}`)
	if out != wantOut || code != wantCode || code != 1 {
		t.Errorf("stdout %q exit %d; claude alone: %q exit %d", out, code, wantOut, wantCode)
	}
	want := "claude-bedrock: Bedrock throttled: too many tokens per minute at cap 4096; run it again at 2048 (with the same input piped in again): CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=2048 claude-bedrock +code -p … --settings …\n"
	if !strings.HasSuffix(stderr, want) || strings.Contains(stderr, "s3cr3t") {
		t.Errorf("stderr %q\nwant it to end with %q, and no secret", stderr, want)
	}
	rec := readIncidents(t, w.home)
	if len(rec) != 1 || rec[0].Kind != "tokens_per_minute" || rec[0].Choice != "none" {
		t.Errorf("incident record %+v", rec)
	}
}

// TestRealClaudeDismissThenKeep: n dismisses the offer and claude's screen
// is whole again; the cap stays; a later throttling is a new incident and
// is offered again; k relaunches and saves the new cap in the profile.
func TestRealClaudeDismissThenKeep(t *testing.T) {
	w := newRealWorld(t)
	w.fake.Throttle(2048)
	cmd := execLauncher(w.env, "+code")
	cmd.Dir = w.dir
	term := ptytest.Start(t, cmd, 40, 100)
	term.WaitForScreen(t, tuiReady, 60*time.Second)
	send := func(text string) {
		term.Type(text, 10*time.Millisecond)
		term.Write("\r")
	}
	offerShown := func(s *ptytest.Screen) bool { return s.Shows("2048?") }

	send("first")
	term.WaitForScreenState(t, "the offer", offerShown, 90*time.Second)
	time.Sleep(launcher.OfferArming) // sooner, a key is typing, not an answer
	term.Write("n")
	// The banner is gone and what it covered is claude's again. (Below its
	// input box claude may leave rows empty: the banner's row is one.)
	term.WaitForScreenState(t, "claude's screen whole again", func(s *ptytest.Screen) bool {
		return !offerShown(s) && !s.Shows("y yes") && s.Shows("Request rejected (429)") && s.Shows("Resend your message")
	}, 30*time.Second)

	w.fake.Heal()
	before := len(w.fake.Turns())
	send("second")
	turns := w.fake.WaitTurns(t, before+1, 60*time.Second)
	if got := turns[len(turns)-1].MaxTokens; got != 4096 {
		t.Errorf("after a dismissal max_tokens = %d, want the unchanged 4096", got)
	}
	term.WaitForScreen(t, fakebedrock.DefaultReply, 30*time.Second)

	w.fake.Throttle(2048)
	mark := term.Len()
	send("third")
	term.WaitForScreenSince(t, mark, "2048?", 90*time.Second) // a new incident: offered again
	time.Sleep(launcher.OfferArming)
	mark = term.Len()
	term.Write("k")
	term.WaitForScreenSince(t, mark, "cap 4096 -> 2048", 30*time.Second)
	term.WaitForScreenSince(t, mark, tuiReady, 60*time.Second)
	config, err := os.ReadFile(filepath.Join(w.home, ".config/claude-bedrock/config.toml"))
	if err != nil || !strings.Contains(string(config), "[profiles.code]") || !strings.Contains(string(config), "max_output_tokens = 2048") {
		t.Errorf("k did not save the cap: %q, %v", config, err)
	}

	before = len(w.fake.Turns())
	mark = term.Len()
	send("fourth")
	turns = w.fake.WaitTurns(t, before+1, 60*time.Second)
	if got := turns[len(turns)-1].MaxTokens; got != 2048 {
		t.Errorf("after k max_tokens = %d, want 2048", got)
	}
	term.WaitForScreenSince(t, mark, fakebedrock.DefaultReply, 30*time.Second)
	waitIdle(t, term) // Ctrl-C now quits
	quitClaude(t, term)
	var choices []string
	for _, inc := range readIncidents(t, w.home) {
		choices = append(choices, inc.Choice)
	}
	if strings.Join(choices, ",") != "dismiss,keep" {
		t.Errorf("incident record choices %q, want dismiss then keep", choices)
	}
}

// On a terminal of a few rows, or a narrow one, a throttled session is
// still noticed and recorded, and the banner still shows the new cap and
// the keys, shortened to what fits.
func TestRealClaudeThrottledOnSmallTerminals(t *testing.T) {
	for _, size := range []struct{ rows, cols int }{{5, 80}, {6, 80}, {30, 20}} {
		t.Run(itoa(size.rows)+"x"+itoa(size.cols), func(t *testing.T) {
			w := newRealWorld(t)
			w.fake.Throttle(2048)
			cmd := execLauncher(w.env, "+code")
			cmd.Dir = w.dir
			term := ptytest.Start(t, cmd, size.rows, size.cols)
			term.WaitForSince(t, 0, "\x1b[?2004h", 60*time.Second) // claude's input is on
			w.fake.WaitRequests(t, 1, 60*time.Second)
			time.Sleep(2 * time.Second) // claude settles into its prompt
			term.Type("hello", 10*time.Millisecond)
			term.Write("\r")
			w.fake.WaitTurns(t, 1, 60*time.Second)
			term.WaitForScreenState(t, "the offer, with the new cap and the keys", func(s *ptytest.Screen) bool {
				return s.Shows("2048?") && s.Shows("y/k/n") || s.Shows("2048?") && s.Shows("y yes")
			}, 90*time.Second)
			time.Sleep(launcher.OfferArming)
			term.Write("n")
			time.Sleep(time.Second)
			term.Write("\x03")
			time.Sleep(500 * time.Millisecond)
			term.Write("\x03")
			term.Wait(t, 30*time.Second)
			rec := readIncidents(t, w.home)
			if len(rec) != 1 || rec[0].Kind != "tokens_per_minute" || rec[0].Choice != "dismiss" {
				t.Errorf("incident record %+v, want one tokens_per_minute, dismissed", rec)
			}
		})
	}
}
