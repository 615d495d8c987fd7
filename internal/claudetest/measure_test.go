package claudetest_test

// These tests pin what the real Claude Code does with settings, flags,
// sessions and Ctrl-Z, as measured for the launcher. When the pinned version
// changes and one fails, the launcher's assumptions need a second look.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

const (
	opus46   = "us.anthropic.claude-opus-4-6-v1"
	sonnet46 = "us.anthropic.claude-sonnet-4-6"
	sonnet45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	opus55   = "us.anthropic.claude-opus-5-5"
	runLimit = 2 * time.Minute
)

// haikuSettings is the --settings value a launcher would pass.
var haikuSettings = `{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"2048","ANTHROPIC_MODEL":"` + haiku + `"}}`

// conflicting are the settings files a user may have: user settings and the
// project's local settings both set the model and cap in their env block.
var (
	userEnvSettings  = map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "7777", "ANTHROPIC_MODEL": opus46}}
	localEnvSettings = map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "5555", "ANTHROPIC_MODEL": sonnet46}}
)

// wire is the model and max_tokens of a turn.
type wire struct {
	Model     string
	MaxTokens int
}

func TestSettingsPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name        string
		user, local any
		env, args   []string
		want        wire
	}{
		{"files only: project local beats user", userEnvSettings, localEnvSettings, nil,
			[]string{"-p", "hi"}, wire{sonnet46, 5555}},
		{"a: --settings beats both files", userEnvSettings, localEnvSettings, nil,
			[]string{"--settings", haikuSettings, "-p", "hi"}, wire{haiku, 2048}},
		{"a: --settings from a file", userEnvSettings, localEnvSettings, nil,
			[]string{"--settings", "FILE", "-p", "hi"}, wire{haiku, 2048}},
		{"b: the last --settings replaces the first (no merge)", userEnvSettings, localEnvSettings, nil,
			[]string{"--settings", haikuSettings, "--settings", `{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"3000"}}`, "-p", "hi"},
			wire{sonnet46, 3000}},
		{"b: reversed order", userEnvSettings, localEnvSettings, nil,
			[]string{"--settings", `{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"3000"}}`, "--settings", haikuSettings, "-p", "hi"},
			wire{haiku, 2048}},
		{"c: --model beats --settings env ANTHROPIC_MODEL", userEnvSettings, nil, nil,
			[]string{"--settings", haikuSettings, "--model", "sonnet", "-p", "hi"}, wire{sonnet45, 2048}},
		{"c: in either order", userEnvSettings, nil, nil,
			[]string{"--model", "sonnet", "--settings", haikuSettings, "-p", "hi"}, wire{sonnet45, 2048}},
		{"d: settings model key alone", map[string]any{"model": "opus"}, nil, nil,
			[]string{"-p", "hi"}, wire{opus55, 128000}},
		{"d: process env ANTHROPIC_MODEL beats settings model key", map[string]any{"model": "opus"}, nil,
			[]string{"ANTHROPIC_MODEL=" + haiku}, []string{"-p", "hi"}, wire{haiku, 32000}},
		{"d: --settings env ANTHROPIC_MODEL beats settings model key", map[string]any{"model": "opus"}, nil, nil,
			[]string{"--settings", haikuSettings, "-p", "hi"}, wire{haiku, 2048}},
		{"d: user env ANTHROPIC_MODEL beats --settings model key", userEnvSettings, nil, nil,
			[]string{"--settings", `{"model":"haiku"}`, "-p", "hi"}, wire{opus46, 7777}},
		{"d: process env ANTHROPIC_MODEL beats --settings model key", nil, nil, []string{"ANTHROPIC_MODEL=" + opus46},
			[]string{"--settings", `{"model":"haiku"}`, "-p", "hi"}, wire{opus46, 64000}},
		{"e: --settings after -p", userEnvSettings, nil, nil,
			[]string{"-p", "hi", "--settings", haikuSettings}, wire{haiku, 2048}},
		{"e: --settings after other flags", userEnvSettings, nil, nil,
			[]string{"--verbose", "--settings", haikuSettings, "-p", "hi"}, wire{haiku, 2048}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakebedrock.New(t)
			work := t.TempDir()
			home := claudetest.Home(t, work)
			if tc.user != nil {
				claudetest.WriteJSON(t, home, ".claude/settings.json", tc.user)
			}
			if tc.local != nil {
				claudetest.WriteJSON(t, work, ".claude/settings.local.json", tc.local)
			}
			args := slices.Clone(tc.args)
			if i := slices.Index(args, "FILE"); i >= 0 {
				args[i] = filepath.Join(t.TempDir(), "launcher-settings.json")
				if err := os.WriteFile(args[i], []byte(haikuSettings), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := append(claudetest.Env(home, fake.URL(), "us-west-2"), tc.env...)
			stdout, stderr, code := claudetest.Run(t, env, work, runLimit, args...)
			turns := fake.Turns()
			if code != 0 || len(turns) != 1 {
				t.Fatalf("exit %d, %d turns, want 0 and 1\nstdout %q\nstderr %q\n%s", code, len(turns), stdout, stderr, fakebedrock.Summary(fake.Requests()))
			}
			if got := (wire{turns[0].Model, turns[0].MaxTokens}); got != tc.want {
				t.Errorf("on the wire %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSettingsFlagWithSubcommandsAndErrors(t *testing.T) {
	fake := fakebedrock.New(t)
	work := t.TempDir()
	home := claudetest.Home(t, work)
	env := claudetest.Env(home, fake.URL(), "us-west-2")
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--settings", "{}", "mcp", "list"}, 0, "No MCP servers configured", ""},
		{[]string{"--settings", "{}", "--version"}, 0, claudetest.Version + " (Claude Code)", ""},
		{[]string{"--settings", haikuSettings, "--settings", "{}", "--version"}, 0, claudetest.Version + " (Claude Code)", ""},
		// Not JSON: taken for a file name.
		{[]string{"--settings", "{bad", "-p", "hi"}, 1, "", "Error: Settings file not found: "},
		{[]string{"--settings", "/nonexistent/settings.json", "-p", "hi"}, 1, "", "Error: Settings file not found: /nonexistent/settings.json"},
	} {
		stdout, stderr, code := claudetest.Run(t, env, work, runLimit, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("claude %q: exit %d stdout %q stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
	if n := len(fake.Turns()); n != 0 {
		t.Errorf("%d turns went out; none should have", n)
	}
}

var resumeLine = regexp.MustCompile(`claude --resume ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)

// startTUI runs the interactive CLI in a pty and waits for its input box.
func startTUI(t *testing.T, env []string, work string, cols int, args ...string) *ptytest.Term {
	t.Helper()
	tm := ptytest.Start(t, claudetest.Command(t, env, work, args...), 30, cols)
	tm.WaitForScreen(t, "? for shortcuts", runLimit)
	return tm
}

// sendTUI types msg into the input box and presses Enter.
func sendTUI(t *testing.T, tm *ptytest.Term, msg string) {
	t.Helper()
	since := tm.Len()
	tm.Write(msg)
	tm.WaitForScreenSince(t, since, msg, 30*time.Second)
	tm.Write("\r")
}

// quitTUI presses Ctrl-C twice and returns the exit code and the session ID
// the CLI prints ("" if none: after a SIGCONT it did not always print one).
func quitTUI(t *testing.T, tm *ptytest.Term) (exitCode int, sessionID string) {
	t.Helper()
	since := tm.Len()
	tm.Write("\x03")
	tm.WaitForScreenSince(t, since, "Press Ctrl-C again to exit", 30*time.Second)
	tm.Write("\x03")
	code := tm.Wait(t, 30*time.Second)
	m := resumeLine.FindSubmatch(tm.Output())
	if m == nil {
		return code, ""
	}
	return code, string(m[1])
}

// sessionID returns the session the CLI saved: from the 'claude --resume
// <id>' line it prints at exit, and checks that the transcript
// ~/.claude/projects/<folder>/<id>.jsonl exists. In about 1 run of 20, on a
// loaded machine, the line did not come; the transcript is then the source.
func sessionID(t *testing.T, tm *ptytest.Term, home string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(home, ".claude", "projects", "*", "*.jsonl")) // a bad pattern is impossible here
	var id string
	if tm.Until(func(b []byte) bool { return resumeLine.Match(b) }, 10*time.Second) {
		id = string(resumeLine.FindSubmatch(tm.Output())[1])
	} else {
		t.Logf("no 'claude --resume <id>' line at exit; taking the ID from the transcript")
		if len(files) == 1 {
			id = strings.TrimSuffix(filepath.Base(files[0]), ".jsonl")
		}
	}
	if len(files) != 1 || filepath.Base(files[0]) != id+".jsonl" {
		t.Fatalf("session %q, transcripts %q: want exactly ~/.claude/projects/<folder>/<id>.jsonl", id, files)
	}
	return id
}

// lastUserText returns the text of the last user message of a turn.
func lastUserText(r fakebedrock.Request) string {
	if len(r.UserTexts) == 0 {
		return ""
	}
	return r.UserTexts[len(r.UserTexts)-1]
}

func anyUserText(r fakebedrock.Request, substr string) bool {
	return slices.ContainsFunc(r.UserTexts, func(s string) bool { return strings.Contains(s, substr) })
}

// TestInteractiveHonoursSettings is measurement f: the TUI puts the
// --settings model and cap on the wire over both settings files, and the
// terminal is restored when it exits.
func TestInteractiveHonoursSettings(t *testing.T) {
	fake := fakebedrock.New(t, fakebedrock.WithReply("pineapple acknowledged"))
	work := t.TempDir()
	home := claudetest.Home(t, work)
	claudetest.WriteJSON(t, home, ".claude/settings.json", userEnvSettings)
	claudetest.WriteJSON(t, work, ".claude/settings.local.json", localEnvSettings)
	env := claudetest.Env(home, fake.URL(), "us-west-2")

	tm := startTUI(t, env, work, 100, "--settings", haikuSettings)
	if m := tm.Mode(t); !m.Raw() && m.Canonical {
		t.Errorf("terminal mode while the TUI runs = %+v, want non-canonical", m)
	}
	sendTUI(t, tm, "remember pineapple")
	turns := fake.WaitTurns(t, 1, runLimit)
	if got := (wire{turns[0].Model, turns[0].MaxTokens}); got != (wire{haiku, 2048}) {
		t.Errorf("TUI turn on the wire %+v, want %s/2048", got, haiku)
	}
	if !strings.Contains(lastUserText(turns[0]), "remember pineapple") {
		t.Errorf("last user text %q lacks the typed message", lastUserText(turns[0]))
	}
	tm.WaitForScreen(t, "pineapple acknowledged", runLimit)
	// Probes at start: max_tokens 1 to /invoke, not streaming.
	for _, r := range fake.Requests() {
		if r.Op == "invoke" && r.MaxTokens != 1 {
			t.Errorf("probe %s with max_tokens %d, want 1", r.Model, r.MaxTokens)
		}
	}
	code, _ := quitTUI(t, tm)
	if code != 0 {
		t.Errorf("exit %d after two Ctrl-C, want 0", code)
	}
	id := sessionID(t, tm, home)
	if m := tm.Mode(t); !m.Sane() {
		t.Errorf("terminal mode after exit = %+v, want sane", m)
	}

	// g: --resume <id> and --continue carry the conversation; in -p mode.
	for _, args := range [][]string{{"--resume", id, "-p", "what fruit"}, {"--continue", "-p", "what fruit again"}} {
		n := len(fake.Turns())
		start := time.Now()
		stdout, stderr, code := claudetest.Run(t, env, work, runLimit, append([]string{"--settings", haikuSettings}, args...)...)
		t.Logf("claude %q took %v", args, time.Since(start).Round(time.Millisecond))
		turns := fake.Turns()
		if code != 0 || len(turns) != n+1 {
			t.Fatalf("claude %q: exit %d, %d new turns\nstdout %q stderr %q", args, code, len(turns)-n, stdout, stderr)
		}
		r := turns[n]
		t.Logf("claude %q sent roles %v", args, roles(r))
		if !anyUserText(r, "remember pineapple") || !strings.Contains(lastUserText(r), args[len(args)-1]) {
			t.Errorf("claude %q sent user texts ending %q; want the earlier message and the new one", args, tails(r.UserTexts))
		}
		if r.MaxTokens != 2048 || r.Model != haiku {
			t.Errorf("claude %q: %s/%d on the wire", args, r.Model, r.MaxTokens)
		}
	}
}

// TestContinueAfterThrottleAtNewCap: a throttled -p run, then --continue at a
// lower cap sends both messages with the new cap (the relaunch the launcher offers).
func TestContinueAfterThrottleAtNewCap(t *testing.T) {
	fake := fakebedrock.New(t, fakebedrock.WithThrottle(4096))
	work := t.TempDir()
	home := claudetest.Home(t, work)
	env := append(claudetest.Env(home, fake.URL(), "us-west-2"), "ANTHROPIC_MODEL=haiku")
	stdout, _, code := claudetest.Run(t, env, work, runLimit, "--settings", `{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"8192"}}`, "-p", "remember pineapple")
	if code != 1 || !strings.Contains(stdout, "Too many tokens") {
		t.Fatalf("throttled run: exit %d stdout %q", code, stdout)
	}
	n := len(fake.Turns())
	stdout, _, code = claudetest.Run(t, env, work, runLimit, "--settings", `{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"4096"}}`, "--continue", "-p", "what fruit")
	turns := fake.Turns()
	if code != 0 || len(turns) != n+1 {
		t.Fatalf("continued run: exit %d stdout %q, %d new turns", code, stdout, len(turns)-n)
	}
	r := turns[n]
	t.Logf("continued turn: roles %v, blocks %v", roles(r), blocks(r))
	if r.MaxTokens != 4096 || !anyUserText(r, "remember pineapple") || !strings.Contains(lastUserText(r), "what fruit") {
		t.Errorf("continued turn max_tokens %d user texts %q", r.MaxTokens, tails(r.UserTexts))
	}
}

// TestFirstRunScreens shows why Home writes what it writes: each key skips
// one first-run screen, and with both the TUI opens on its input box.
func TestFirstRunScreens(t *testing.T) {
	fake := fakebedrock.New(t)
	for _, tc := range []struct {
		name   string
		config func(work string) any
		screen string
	}{
		{"nothing", func(string) any { return map[string]any{} }, "Choose the text style that looks best with your terminal"},
		{"onboarding only", func(string) any { return map[string]any{"hasCompletedOnboarding": true} },
			"Is this a project you created or one you trust?"},
		{"as Home writes it", nil, "? for shortcuts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			home := claudetest.Home(t, work)
			if tc.config != nil {
				claudetest.WriteJSON(t, home, ".claude.json", tc.config(work))
			}
			env := append(claudetest.Env(home, fake.URL(), "us-west-2"), "ANTHROPIC_MODEL=haiku")
			tm := ptytest.Start(t, claudetest.Command(t, env, work), 30, 100)
			tm.WaitForScreenState(t, fmt.Sprintf("%q on screen", tc.screen), func(s *ptytest.Screen) bool {
				return s.Shows(tc.screen)
			}, runLimit)
		})
	}
}

// TestCtrlZ is measurement g: Ctrl-Z reaches the CLI as a byte; it leaves
// the alternate screen, restores a cooked terminal, prints that it is
// suspended and sends SIGTSTP to its own process group. As the leader of its
// own session (as under any pty proxy) its group is orphaned, so the kernel
// discards that SIGTSTP: the CLI stays suspended, in cooked mode, until
// someone sends it SIGCONT; then it goes raw again and redraws.
func TestCtrlZ(t *testing.T) {
	fake := fakebedrock.New(t)
	work := t.TempDir()
	home := claudetest.Home(t, work)
	env := append(claudetest.Env(home, fake.URL(), "us-west-2"), "ANTHROPIC_MODEL=haiku")
	tm := startTUI(t, env, work, 100)
	since := tm.Len()
	tm.Write("\x1a")
	tm.WaitForSince(t, since, "\x1b[?1049l", 30*time.Second)
	tm.WaitForSince(t, since, "\r\nClaude Code is suspended. Run `fg` to bring it back.\r\nTo undo typing, press ctrl+_.\r\n", 30*time.Second)
	// It prints first and restores the mode just after: poll for it.
	waitMode(t, tm, "cooked after Ctrl-Z", ptytest.Mode.Sane)
	select {
	case <-tm.Exited():
		t.Fatalf("claude exited on Ctrl-Z")
	default:
	}
	since = tm.Len()
	if err := syscall.Kill(tm.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	tm.WaitForScreenSince(t, since, "Claude Code", 30*time.Second) // the redraw
	waitMode(t, tm, "non-canonical after SIGCONT", func(m ptytest.Mode) bool { return !m.Canonical && !m.Echo })
	sendTUI(t, tm, "after resume")
	turns := fake.WaitTurns(t, 1, runLimit)
	if !strings.Contains(lastUserText(turns[0]), "after resume") {
		t.Errorf("turn after SIGCONT: %q", lastUserText(turns[0]))
	}
	tm.WaitForScreenSince(t, since, fakebedrock.DefaultReply, runLimit)
	code, id := quitTUI(t, tm)
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	t.Logf("session ID printed at exit after SIGCONT: %q", id)
}

// waitMode polls the terminal mode until ok holds, failing after 30s.
func waitMode(t *testing.T, tm *ptytest.Term, what string, ok func(ptytest.Mode) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := tm.Mode(t)
		if ok(m) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal mode not %s within 30s: %+v", what, m)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's terminal mode; there is no event for it
	}
}

// tails shortens user texts (system reminders make them long) for messages.
func tails(texts []string) []string {
	out := make([]string, len(texts))
	for i, s := range texts {
		if len(s) > 60 {
			s = "…" + s[len(s)-60:]
		}
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// roles lists the role of each message of a turn.
func roles(r fakebedrock.Request) []string {
	var out []string
	msgs, _ := r.Body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		role, _ := mm["role"].(string)
		out = append(out, role)
	}
	return out
}

// blocks lists each message's content blocks as type:start-of-text, for logs.
func blocks(r fakebedrock.Request) [][]string {
	var out [][]string
	msgs, _ := r.Body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		var bs []string
		switch c := mm["content"].(type) {
		case string:
			bs = append(bs, "string:"+c[:min(len(c), 30)])
		case []any:
			for _, b := range c {
				bm, _ := b.(map[string]any)
				typ, _ := bm["type"].(string)
				text, _ := bm["text"].(string)
				bs = append(bs, fmt.Sprintf("%s:%q", typ, text[:min(len(text), 30)]))
			}
		}
		out = append(out, bs)
	}
	return out
}
