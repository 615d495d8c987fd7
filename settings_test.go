package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// Claude Code keeps only the last --settings it is given: every one the
// user passes is merged, in order, with the profile's, and claude gets one.
func TestEverySettingsIsMerged(t *testing.T) {
	env := testEnv(t, "report")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	b := filepath.Join(dir, "b.json")
	writeFile(t, a, `{"permissions":{"allow":["Bash(ls)"]},"model":"from-a","env":{"FOO":"a","ONLY_A":"1"}}`)
	writeFile(t, b, `{"permissions":{"allow":["Bash(pwd)"],"deny":["Bash(rm)"]},"env":{"FOO":"b"}}`)
	inline := `{"model":"from-inline","env":{"INLINE":"1"}}`
	args := []string{"-p", "x", "--settings", a, "--verbose", "--settings=" + b, "--settings", inline}
	if _, stderr, code := runLauncher(t, env, dir, "", args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readReport(t, env)
	var rest []string
	n := 0
	for i := 0; i < len(r.Args); i++ {
		if r.Args[i] == "--settings" {
			n, i = n+1, i+1
			continue
		}
		rest = append(rest, r.Args[i])
	}
	if n != 1 {
		t.Fatalf("claude got %d --settings, want 1: %q", n, r.Args)
	}
	if diff := cmp.Diff([]string{"-p", "x", "--verbose"}, rest); diff != "" {
		t.Errorf("claude's other args (-want +got):\n%s", diff)
	}
	var got struct {
		Model       string
		Permissions map[string][]string
		Env         map[string]string
	}
	if err := json.Unmarshal([]byte(r.SettingsFile), &got); err != nil {
		t.Fatalf("merged settings %q: %v", r.SettingsFile, err)
	}
	if got.Model != "from-inline" {
		t.Errorf("model %q: the last --settings wins a key", got.Model)
	}
	if diff := cmp.Diff(map[string][]string{"allow": {"Bash(ls)", "Bash(pwd)"}, "deny": {"Bash(rm)"}}, got.Permissions); diff != "" {
		t.Errorf("permissions: lists are merged (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{"FOO": "b", "ONLY_A": "1", "INLINE": "1", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "4096", "AWS_REGION": "us-west-2"} {
		if got.Env[k] != v {
			t.Errorf("env %s = %q, want %q (merged env: %v)", k, got.Env[k], v, got.Env)
		}
	}
}

// The issue as found: two --settings and a cap in ~/.claude/settings.json;
// the real Claude Code must still send the profile's cap.
func TestRealClaudeTwoSettingsKeepTheProfilesCap(t *testing.T) {
	w := newCleanWorld(t)
	claudetest.WriteJSON(t, w.home, ".claude/settings.json", map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "32000"}})
	a := claudetest.WriteJSON(t, w.dir, "a.json", map[string]any{"permissions": map[string]any{"allow": []string{"Bash(ls)"}}})
	b := claudetest.WriteJSON(t, w.dir, "b.json", map[string]any{"env": map[string]string{"SOMETHING": "else"}})
	for _, args := range [][]string{
		{"-p", "x", "--settings", a, "--settings", b},
		{"-p", "x", "--settings=" + a, "--settings=" + b},
		{"-p", "x", "--settings", a, "--settings", `{"env":{"SOMETHING":"else"}}`},
	} {
		before := len(w.fake.Turns())
		out, stderr, code := runLauncher(t, w.env, w.dir, "", args...)
		if code != 0 || !strings.Contains(out, fakebedrock.DefaultReply) {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
		turns := w.fake.Turns()[before:]
		if len(turns) == 0 {
			t.Fatalf("%q: no turn reached the fake: %s", args, fakebedrock.Summary(w.fake.Requests()))
		}
		for _, turn := range turns {
			if turn.MaxTokens != 4096 {
				t.Errorf("%q: max_tokens %d on the wire, want the profile's 4096", args, turn.MaxTokens)
			}
		}
	}
}
