package main

import (
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
)

func TestClassifyClaudeArgs(t *testing.T) {
	tests := []struct {
		args []string
		want sessionKind
	}{
		{nil, chatSession},
		{[]string{"fix the tests"}, chatSession},
		{[]string{"--model", "opus", "--resume"}, chatSession},
		{[]string{"--add-dir", "a", "b", "-c"}, chatSession},
		{[]string{"-p", "hi"}, printSession},
		{[]string{"--print", "--output-format", "stream-json"}, printSession},
		{[]string{"mcp", "list"}, otherCommand},
		{[]string{"--debug", "doctor"}, chatSession}, // --debug takes "doctor" as its filter, as commander does
		{[]string{"doctor"}, otherCommand},
		{[]string{"--version"}, otherCommand},
		{[]string{"--", "-p"}, chatSession},
	}
	for _, tt := range tests {
		if got := classifyClaudeArgs(tt.args); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestRelaunchArgs(t *testing.T) {
	tests := []struct {
		args    []string
		session string
		want    []string
	}{
		{nil, "", []string{"--continue"}},
		{[]string{"fix the tests"}, "", []string{"--continue"}},
		{[]string{"--model", "opus", "fix it", "--verbose"}, "", []string{"--model", "opus", "--verbose", "--continue"}},
		{[]string{"-c", "--permission-mode", "plan"}, "", []string{"--permission-mode", "plan", "--continue"}},
		{[]string{"--resume", "abc-123", "--add-dir", "x", "y"}, "", []string{"--add-dir", "x", "y", "--resume", "abc-123"}},
		{[]string{"-r", "abc", "hello"}, "0f1e2d3c-aaaa-bbbb-cccc-000000000000", []string{"--resume", "0f1e2d3c-aaaa-bbbb-cccc-000000000000"}},
		{[]string{"--model=opus", "--", "-p is a prompt"}, "", []string{"--model=opus", "--continue"}},
		{[]string{"--settings", "{}", "--session-id", "u", "go"}, "", []string{"--settings", "{}", "--continue"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, relaunchArgs(tt.args, tt.session)); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tt.args, diff)
		}
	}
}

// TestClaudeArgsTableMatchesTheCLI keeps the option table honest: it must
// list exactly the options and commands the pinned Claude Code's --help
// shows, each with the kind of value it takes.
func TestClaudeArgsTableMatchesTheCLI(t *testing.T) {
	cmd := exec.Command(claudetest.Binary(t), "--help")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "COLUMNS=200"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("claude --help: %v", err)
	}
	help := string(out)
	optLine := regexp.MustCompile(`(?m)^  (-[-A-Za-z, ]+?)(?: ([<\[][^>\]]+[>\]]))?(?:  |$)`)
	got := map[string]argKind{}
	opts, cmds, _ := strings.Cut(help, "\nCommands:")
	for _, m := range optLine.FindAllStringSubmatch(opts, -1) {
		kind := noValue
		switch v := m[2]; {
		case strings.HasSuffix(v, "...>"):
			kind = variadicValue
		case strings.HasPrefix(v, "<"):
			kind = requiredValue
		case strings.HasPrefix(v, "["):
			kind = optionalValue
		}
		for _, name := range strings.Split(m[1], ", ") {
			got[strings.TrimSpace(name)] = kind
		}
	}
	if diff := cmp.Diff(claudeOptions, got); diff != "" {
		t.Errorf("options (-table +claude --help):\n%s", diff)
	}
	var gotCmds []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z|-]*)`).FindAllStringSubmatch(cmds, -1) {
		gotCmds = append(gotCmds, strings.Split(m[1], "|")...)
	}
	var want []string
	for c := range claudeCommands {
		want = append(want, c)
	}
	sort.Strings(want)
	sort.Strings(gotCmds)
	if diff := cmp.Diff(want, gotCmds); diff != "" {
		t.Errorf("commands (-table +claude --help):\n%s", diff)
	}
}
