package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
)

// writeStatus publishes a snapshot for session under runtime, as the
// gateway does.
func writeStatus(t testing.TB, runtime, session string, content []byte) {
	t.Helper()
	p := gatewayspec.StatusPath(gatewayspec.RuntimeDir(runtime), session)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func statusJSON(t testing.TB, st gatewayspec.Status) []byte {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStatusline runs `claude-bedrock +statusline` as Claude Code does, with
// what its input, environment and snapshot may be.
func TestStatusline(t *testing.T) {
	now := time.Now()
	fresh := gatewayspec.Status{Time: now, TokensPerMinute: 200000, Used: 70000, InFlight: 2, Waiting: 1}
	tests := []struct {
		name     string
		env      []string
		snapshot []byte // for session s1
		stdin    string
		want     string
	}{
		{"governed", []string{"CLAUDE_BEDROCK_PROFILE=code", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", envSession + "=s1"},
			statusJSON(t, fresh), `{"model":{"id":"x"},"session_id":"abc"}`, "code · cap 4096 · quota 35% of 200k/min · 1 waiting"},
		{"limit unknown", []string{"CLAUDE_BEDROCK_PROFILE=code", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", envSession + "=s1"},
			statusJSON(t, gatewayspec.Status{Time: now, Used: 1_500_000}), "{}", "code · cap 4096 · quota 1.5M/min · 0 waiting"},
		{"no snapshot yet", []string{"CLAUDE_BEDROCK_PROFILE=large", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=8192", envSession + "=s2"},
			statusJSON(t, fresh), "{}", "large · cap 8192 · quota — · waiting —"},
		{"stale snapshot", []string{"CLAUDE_BEDROCK_PROFILE=code", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", envSession + "=s1"},
			statusJSON(t, gatewayspec.Status{Time: now.Add(-time.Hour), Used: 5}), "{}", "code · cap 4096 · quota — · waiting —"},
		{"broken snapshot", []string{"CLAUDE_BEDROCK_PROFILE=code", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", envSession + "=s1"},
			[]byte(`{"time":`), "{}", "code · cap 4096 · quota — · waiting —"},
		{"governor off", []string{"CLAUDE_BEDROCK_PROFILE=code", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096"},
			statusJSON(t, fresh), "{}", "code · cap 4096 · quota — · waiting —"},
		{"outside the launcher, garbage input", nil, nil, "\x00\xff not json {{{", "— · cap — · quota — · waiting —"},
		{"a session id that is a path", []string{envSession + "=../sessions/s1"}, statusJSON(t, fresh), "", "— · cap — · quota — · waiting —"},
		{"control characters in the profile", []string{"CLAUDE_BEDROCK_PROFILE=co\x1b[2Jde", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=abc"}, nil, "", "co[2Jde · cap — · quota — · waiting —"},
		{"a big input", []string{"CLAUDE_BEDROCK_PROFILE=code"}, nil, strings.Repeat("x", 1<<20), "code · cap — · quota — · waiting —"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime := t.TempDir()
			if tt.snapshot != nil {
				writeStatus(t, runtime, "s1", tt.snapshot)
			}
			cmd := exec.Command(launcherBin, "+statusline")
			cmd.Env = append([]string{"HOME=" + t.TempDir(), "XDG_RUNTIME_DIR=" + runtime}, tt.env...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("+statusline: %v", err) // exit 0 always
			}
			if diff := cmp.Diff(tt.want+"\n", string(out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestStatuslineStdinNeverClosed: Claude Code's input that never ends does
// not hold the line up.
func TestStatuslineStdinNeverClosed(t *testing.T) {
	cmd := exec.Command(launcherBin, "+statusline")
	cmd.Env = []string{"CLAUDE_BEDROCK_PROFILE=code"}
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // after the line: the test's end
	var out lockedBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitCmd(t, cmd, 10*time.Second); code != 0 || out.String() != "code · cap — · quota — · waiting —\n" {
		t.Errorf("exit %d, %q", code, out.String())
	}
}

// BenchmarkStatusline: one run of `claude-bedrock +statusline` as Claude
// Code starts it, with a snapshot to read. Claude Code runs it after every
// message; the target is 50 ms.
func BenchmarkStatusline(b *testing.B) {
	runtime := b.TempDir()
	writeStatus(b, runtime, "s1", statusJSON(b, gatewayspec.Status{Time: time.Now().Add(time.Hour), TokensPerMinute: 200000, Used: 70000}))
	env := []string{"XDG_RUNTIME_DIR=" + runtime, "CLAUDE_BEDROCK_PROFILE=code", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=4096", envSession + "=s1"}
	input := `{"session_id":"abc","model":{"id":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","display_name":"Sonnet 4.5"},"cost":{"total_cost_usd":0.01}}`
	var took []time.Duration
	for b.Loop() {
		cmd := exec.Command(launcherBin, "+statusline")
		cmd.Env = env
		cmd.Stdin = strings.NewReader(input)
		start := time.Now()
		out, err := cmd.Output()
		took = append(took, time.Since(start))
		if err != nil || !strings.Contains(string(out), "35%") {
			b.Fatalf("%q %v", out, err)
		}
	}
	b.ReportMetric(float64(median(took))/1e6, "median-ms")
}
