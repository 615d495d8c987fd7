package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
)

func TestWrapperFormRunsTheNamedBinaryWithTheProfile(t *testing.T) {
	fake := filepath.Join(fakeDir, "claude")
	tests := []struct {
		args     []string
		settings bool // --settings goes first
	}{
		// A session Claude Code starts through its wrapper: --settings as for any run.
		{[]string{"--session-id", "0f1e2d3c-aaaa-bbbb-cccc-000000000000", "say hi"}, true},
		// Its internal service processes refuse --settings: the environment only.
		{[]string{"daemon", "run", "--origin", "x"}, false},
		{[]string{"--bg-spare", "/tmp/x.sock"}, false},
	}
	for _, tt := range tests {
		env := testEnv(t, "report", "PATH=/nonexistent") // no claude on PATH: the named one must run
		if _, stderr, code := runLauncher(t, env, t.TempDir(), "", append([]string{fake}, tt.args...)...); code != 0 {
			t.Fatalf("%q: exit %d: %s", tt.args, code, stderr)
		}
		r := readReport(t, env)
		got := r.Args
		if tt.settings {
			settingsOf(t, r) // fails unless --settings comes first
			got = got[2:]
		}
		if strings.Join(got, " ") != strings.Join(tt.args, " ") {
			t.Errorf("%q: claude got %q", tt.args, r.Args)
		}
		if r.Env["CLAUDE_BEDROCK_PROFILE"] != "code" || r.Env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] != "4096" {
			t.Errorf("%q: profile not applied: %v", tt.args, r.Env)
		}
	}
	// The launcher named as the binary is skipped, not run again.
	env := testEnv(t, "report")
	if _, stderr, code := runLauncher(t, env, t.TempDir(), "", launcherBin, "+light", "-p", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if r := readReport(t, env); r.Env["CLAUDE_BEDROCK_PROFILE"] != "light" {
		t.Errorf("launcher as its own first argument: profile %q", r.Env["CLAUDE_BEDROCK_PROFILE"])
	}
}

func TestProcessWrapperSetting(t *testing.T) {
	for _, on := range []bool{false, true} {
		env := testEnv(t, "report")
		writeFile(t, filepath.Join(homeOf(env), ".config/claude-bedrock/config.toml"), "process_wrapper = "+strconv.FormatBool(on)+"\n")
		if _, stderr, code := runLauncher(t, env, t.TempDir(), "", "-p", "x"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := readReport(t, env).Env["CLAUDE_CODE_PROCESS_WRAPPER"]
		want := ""
		if on {
			want, _ = filepath.EvalSymlinks(launcherBin)
		}
		if got != want {
			t.Errorf("process_wrapper = %v: CLAUDE_CODE_PROCESS_WRAPPER = %q, want %q", on, got, want)
		}
	}
}

// TestRealClaudeBackgroundServiceThroughTheWrapper: Claude Code started
// with CLAUDE_CODE_PROCESS_WRAPPER naming the launcher (as process_wrapper
// = true makes it) starts its background service and the service's
// sessions through the launcher, which applies the profile to them: the
// background turn carries the profile's model and cap. Without the wrapper
// the same command goes out with Claude Code's defaults (the control).
func TestRealClaudeBackgroundServiceThroughTheWrapper(t *testing.T) {
	for _, wrapped := range []bool{true, false} {
		t.Run("wrapped="+strconv.FormatBool(wrapped), func(t *testing.T) {
			w := newCleanWorld(t)
			t.Cleanup(func() { stopDaemon(t, w) })
			env := append(w.env, "CLAUDE_BEDROCK_PROFILE=light")
			if wrapped {
				env = append(env, "CLAUDE_CODE_PROCESS_WRAPPER="+launcherBin)
			}
			cmd := exec.Command(claudetest.Binary(t), "--bg", "say hi") // claude itself, not the launcher
			cmd.Env, cmd.Dir = env, w.dir
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "backgrounded") {
				t.Fatalf("claude --bg: %v: %s", err, out)
			}
			turn := w.fake.WaitTurns(t, 1, 90*time.Second)[0]
			if !strings.Contains(strings.Join(turn.UserTexts, "\n"), "say hi") {
				t.Errorf("background turn user texts %q", turn.UserTexts)
			}
			wantModel, wantMax := haiku45, 1024
			if !wrapped {
				wantModel, wantMax = "us.anthropic.claude-opus-5-5", 128000 // Claude Code's defaults
			}
			if turn.Model != wantModel || turn.MaxTokens != wantMax {
				t.Errorf("background turn: model %s max_tokens %d; want %s %d", turn.Model, turn.MaxTokens, wantModel, wantMax)
			}
		})
	}
}

// stopDaemon ends the background service the test started, and every
// process left with the test's HOME (pty hosts ignore SIGTERM).
func stopDaemon(t *testing.T, w *realWorld) {
	cmd := exec.Command(claudetest.Binary(t), "daemon", "stop", "--any")
	cmd.Env, cmd.Dir = w.env, w.dir
	_ = cmd.Run() // best effort: the sweep below catches what it leaves
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "\x00HOME="+w.home+"\x00") && !strings.HasPrefix(string(b), "HOME="+w.home+"\x00") {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL) // a test's leftover
		}
	}
}
