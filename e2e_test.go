package main

import (
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

// realWorld is the real Claude Code behind the launcher, a fake Bedrock, and
// Claude settings files that disagree with the profile in every place they
// can: the user's, the project's and the project's local settings.
type realWorld struct {
	fake *fakebedrock.Server
	env  []string
	dir  string
	home string
}

func newRealWorld(t *testing.T, extraEnv ...string) *realWorld {
	t.Helper()
	w := newCleanWorld(t)
	opus := "us.anthropic.claude-opus-4-1-20250805-v1:0"
	home, dir := w.home, w.dir
	claudetest.WriteJSON(t, home, ".claude/settings.json", map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "7777", "ANTHROPIC_MODEL": opus, "AWS_REGION": "us-east-1"}})
	claudetest.WriteJSON(t, dir, ".claude/settings.json", map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "6666", "ANTHROPIC_MODEL": opus}})
	claudetest.WriteJSON(t, dir, ".claude/settings.local.json", map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "5555", "ANTHROPIC_MODEL": opus}})
	w.env = append(w.env, "ANTHROPIC_MODEL="+opus, "CLAUDE_CODE_MAX_OUTPUT_TOKENS=32000") // the shell disagrees too
	w.env = append(w.env, extraEnv...)
	return w
}

// newCleanWorld is the real Claude Code and a fake Bedrock with no settings
// of any kind: Claude Code's defaults apply where the launcher sets nothing.
func newCleanWorld(t *testing.T) *realWorld {
	t.Helper()
	fake := fakebedrock.New(t)
	dir := t.TempDir()
	home := claudetest.Home(t, dir)
	env := append(claudetest.Env(home, fake.URL(), "us-east-1"), "CLAUDE_BEDROCK_CLAUDE="+claudetest.Binary(t))
	return &realWorld{fake: fake, env: env, dir: dir, home: home}
}

// tuiReady is on the interactive TUI's screen once it takes input: the
// footer's status line, which the launcher adds (it takes the place of
// Claude Code's "? for shortcuts" hint).
const tuiReady = " · cap "

const (
	haiku45  = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	sonnet45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
)

func TestRealClaudePrintModeGetsTheProfileOnTheWire(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		args      []string
		wantModel string
		wantMax   int
	}{
		{"built-in light", nil, []string{"+light", "-p", "hi"}, haiku45, 1024},
		{"default code", nil, []string{"-p", "hi"}, sonnet45, 4096},
		{"cap from the environment", []string{"CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=2048"}, []string{"-p", "hi"}, sonnet45, 2048},
		{"the user's --model wins", nil, []string{"+light", "--model", "sonnet", "-p", "hi"}, sonnet45, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newRealWorld(t, tt.env...)
			out, stderr, code := runLauncher(t, w.env, w.dir, "", tt.args...)
			if code != 0 || !strings.Contains(out, fakebedrock.DefaultReply) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
			}
			turns := w.fake.Turns()
			if len(turns) == 0 {
				t.Fatalf("no turn reached the fake: %s", fakebedrock.Summary(w.fake.Requests()))
			}
			for _, turn := range turns {
				if turn.Model != tt.wantModel || turn.MaxTokens != tt.wantMax {
					t.Errorf("on the wire: model %s max_tokens %d; want %s %d", turn.Model, turn.MaxTokens, tt.wantModel, tt.wantMax)
				}
			}
		})
	}
}

// TestRealClaudeControl shows what the launcher is up against: the same
// world without the launcher puts the settings files' values on the wire.
func TestRealClaudeControlWithoutLauncher(t *testing.T) {
	w := newRealWorld(t)
	_, stderr, code := claudetest.Run(t, w.env, w.dir, 60*time.Second, "-p", "hi")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	turns := w.fake.Turns()
	if len(turns) == 0 || turns[0].MaxTokens != 5555 {
		t.Fatalf("without the launcher: %s; want max_tokens 5555 from .claude/settings.local.json", fakebedrock.Summary(turns))
	}
}

func TestRealClaudeInteractiveGetsTheProfileOnTheWire(t *testing.T) {
	w := newRealWorld(t)
	cmd := execLauncher(w.env, "+light")
	cmd.Dir = w.dir
	term := ptytest.Start(t, cmd, 40, 120)
	// The TUI is ready when its start-up probes have gone out and it has drawn its prompt.
	w.fake.WaitRequests(t, 1, 60*time.Second)
	term.WaitForScreen(t, tuiReady, 60*time.Second)
	term.WaitForScreen(t, "light · cap 1024 · quota ", 10*time.Second) // the launcher's status line, from +statusline
	term.Type("say hi", 20*time.Millisecond)
	term.Write("\r")
	turns := w.fake.WaitTurns(t, 1, 60*time.Second)
	if turns[0].Model != haiku45 || turns[0].MaxTokens != 1024 {
		t.Errorf("on the wire: model %s max_tokens %d; want %s 1024", turns[0].Model, turns[0].MaxTokens, haiku45)
	}
	if got := turns[0].UserTexts; len(got) == 0 || !strings.Contains(got[len(got)-1], "say hi") {
		t.Errorf("user text on the wire: %q", got)
	}
	term.WaitForScreen(t, fakebedrock.DefaultReply, 30*time.Second)
	waitIdle(t, term)
	quitClaude(t, term)
	if m := term.Mode(t); !m.Sane() {
		t.Errorf("terminal not restored: %+v", m)
	}
}
