package claudetest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

const haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0"

// TestPrintModeOnTheWire runs the real CLI in -p mode against the fake and
// checks the model and max_tokens that went out, and the answer on stdout.
func TestPrintModeOnTheWire(t *testing.T) {
	fake := fakebedrock.New(t, fakebedrock.WithReply("pineapple is the answer"))
	work := t.TempDir()
	home := claudetest.Home(t, work)
	env := append(claudetest.Env(home, fake.URL(), "us-west-2"),
		"ANTHROPIC_MODEL="+haiku, "CLAUDE_CODE_MAX_OUTPUT_TOKENS=2048")
	stdout, stderr, code := claudetest.Run(t, env, work, 2*time.Minute, "-p", "say hi")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s\nrequests:\n%s", code, stdout, stderr, fakebedrock.Summary(fake.Requests()))
	}
	if !strings.Contains(stdout, "pineapple is the answer") {
		t.Errorf("stdout = %q, want the fake's reply", stdout)
	}
	turns := fake.Turns()
	if len(turns) == 0 {
		t.Fatalf("no streaming request; got:\n%s", fakebedrock.Summary(fake.Requests()))
	}
	last := turns[len(turns)-1]
	if last.Model != haiku || last.MaxTokens != 2048 {
		t.Errorf("turn went out with model %q max_tokens %d, want %q 2048", last.Model, last.MaxTokens, haiku)
	}
	if n := len(last.UserTexts); n == 0 || !strings.Contains(last.UserTexts[n-1], "say hi") {
		t.Errorf("user texts %q, want the prompt last", last.UserTexts)
	}
}

// TestPrintModeThrottled checks the documented 429 line on stdout and exit 1.
func TestPrintModeThrottled(t *testing.T) {
	fake := fakebedrock.New(t, fakebedrock.WithThrottle(4096))
	work := t.TempDir()
	home := claudetest.Home(t, work)
	env := append(claudetest.Env(home, fake.URL(), "us-west-2"),
		"ANTHROPIC_MODEL=haiku", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=8192")
	stdout, stderr, code := claudetest.Run(t, env, work, 2*time.Minute, "-p", "hi")
	want := "API Error: Request rejected (429) · Too many tokens, please wait before trying again."
	if code != 1 || !strings.Contains(stdout, want) {
		t.Errorf("exit %d stdout %q stderr %q, want exit 1 and %q", code, stdout, stderr, want)
	}
	turns := fake.Turns()
	if len(turns) != claudetest.MaxRetries+1 {
		t.Errorf("%d streaming requests, want %d (1 + CLAUDE_CODE_MAX_RETRIES):\n%s",
			len(turns), claudetest.MaxRetries+1, fakebedrock.Summary(fake.Requests()))
	}
	for _, r := range turns {
		if r.Model != haiku || r.MaxTokens != 8192 || r.Status != 429 {
			t.Errorf("turn %s max_tokens %d -> %d, want %s 8192 -> 429", r.Model, r.MaxTokens, r.Status, haiku)
		}
	}
}

func TestHomeWritesConfig(t *testing.T) {
	work := t.TempDir()
	home := claudetest.Home(t, work)
	b, err := os.ReadFile(filepath.Join(home, ".claude.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"hasCompletedOnboarding": true`, `"` + work + `"`, `"hasTrustDialogAccepted": true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf(".claude.json lacks %s:\n%s", want, b)
		}
	}
}

func TestBinaryVersion(t *testing.T) {
	bin := claudetest.Binary(t)
	out, _, code := claudetest.Run(t, []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, t.TempDir(), time.Minute, "--version")
	if code != 0 || !strings.HasPrefix(out, claudetest.Version+" ") {
		t.Errorf("%s --version = %q (exit %d), want %s …", bin, out, code, claudetest.Version)
	}
}

func TestBinDirOnPath(t *testing.T) {
	dir := claudetest.BinDir(t)
	env := []string{"HOME=" + t.TempDir(), "PATH=" + dir + ":/usr/bin:/bin"}
	cmd := exec.Command("sh", "-c", "claude --version")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), claudetest.Version+" ") {
		t.Errorf("claude from BinDir on PATH: %q, %v", out, err)
	}
}
