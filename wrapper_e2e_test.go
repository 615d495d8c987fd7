package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/launcher"
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
// process left with the test's HOME (pty hosts ignore SIGTERM). It sweeps
// until none is left: a process may start one more (the service clones
// Claude Code's plugin marketplace into HOME with git) between a sweep's
// look and its kills, and would write into HOME while it is removed.
func stopDaemon(t *testing.T, w *realWorld) {
	cmd := exec.Command(claudetest.Binary(t), "daemon", "stop", "--any")
	cmd.Env, cmd.Dir = w.env, w.dir
	_ = cmd.Run() // best effort: the sweep below catches what it leaves
	for range 100 {
		if killHomeProcesses(w.home) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond) // let the killed ones go
	}
	t.Errorf("processes with HOME=%s still start after 5 s of sweeping", w.home)
}

// killHomeProcesses sends SIGKILL to every process whose environment has
// HOME=home, and returns how many it found.
func killHomeProcesses(home string) int {
	found := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		b, err := os.ReadFile(p) // a zombie's is empty: it is gone already
		if err != nil || !strings.Contains(string(b), "\x00HOME="+home+"\x00") && !strings.HasPrefix(string(b), "HOME="+home+"\x00") {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && pid != os.Getpid() {
			found++
			_ = syscall.Kill(pid, syscall.SIGKILL) // a test's leftover
		}
	}
	return found
}

// loopGuard starts a wrapper script: it counts its runs in LOOP_RUNS and
// gives up after a few, so that a launcher that loops fails the test
// instead of filling the machine with launchers.
const loopGuard = "#!/bin/sh\nn=${LOOP_RUNS:-0}\nif [ \"$n\" -ge 3 ]; then echo looped >&2; exit 42; fi\nexport LOOP_RUNS=$((n+1))\n"

// A claude first on PATH that runs claude-bedrock again (a wrapper script,
// with or without exec) never makes the launcher start itself again: the
// launcher it runs hands over to the next claude on PATH, in its place,
// with what the first launcher meant for claude.
func TestAClaudeThatRunsTheLauncherAgainDoesNotLoop(t *testing.T) {
	for _, tt := range []struct{ name, script string }{
		{"exec script", loopGuard + "exec " + launcherBin + " \"$@\"\n"},
		{"script", loopGuard + launcherBin + " \"$@\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "claude"), tt.script)
			if err := os.Chmod(filepath.Join(dir, "claude"), 0o755); err != nil {
				t.Fatal(err)
			}
			env := testEnv(t, "report", "PATH="+dir+":"+fakeDir+":/usr/bin:/bin")
			cmd := execLauncher(env, "-p", "x")
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if code := waitCmd(t, cmd, 30*time.Second); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			r := readReport(t, env)
			if settingsOf(t, r)["CLAUDE_BEDROCK_PROFILE"] != "code" || strings.Join(r.Args[2:], " ") != "-p x" {
				t.Errorf("claude got %q: want the first launcher's arguments", r.Args)
			}
			if r.Env["LOOP_RUNS"] != "1" {
				t.Errorf("the wrapper ran %q times, want once", r.Env["LOOP_RUNS"])
			}
			if want := ":1:" + filepath.Join(fakeDir, "claude"); !strings.HasSuffix(r.Env[launcher.StartedVar], want) {
				t.Errorf("%s = %q, want it to end with %q", launcher.StartedVar, r.Env[launcher.StartedVar], want)
			}
			if tt.name == "exec script" && r.Ppid != cmd.Process.Pid {
				t.Errorf("claude's parent is %d, want the first launcher %d: a launcher was left in between", r.Ppid, cmd.Process.Pid)
			}
		})
	}
}

// Two claudes on PATH that both come back: the second launcher that sees
// one stops with an error naming it. One level, never more.
func TestTwoClaudesThatRunTheLauncherAgainStop(t *testing.T) {
	var dirs []string
	for range 2 {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "claude"), loopGuard+"exec "+launcherBin+" \"$@\"\n")
		if err := os.Chmod(filepath.Join(dir, "claude"), 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	env := testEnv(t, "report", "PATH="+dirs[0]+":"+dirs[1]+":"+fakeDir+":/usr/bin:/bin")
	_, stderr, code := runLauncher(t, env, t.TempDir(), "", "-p", "x")
	want := "claude-bedrock: " + filepath.Join(dirs[1], "claude") + " runs claude-bedrock again"
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(homeOf(env), "report.json")); err == nil {
		t.Error("a claude ran")
	}
}

// A claude on PATH that links to another copy of the launcher (a second
// install, say) is caught the same way; a link to this very launcher is
// skipped when claude is looked for.
func TestALinkToTheLauncherDoesNotLoop(t *testing.T) {
	copyDir := t.TempDir()
	b, err := os.ReadFile(launcherBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(copyDir, "claude-bedrock"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{launcherBin, filepath.Join(copyDir, "claude-bedrock")} {
		dir := t.TempDir()
		if err := os.Symlink(target, filepath.Join(dir, "claude")); err != nil {
			t.Fatal(err)
		}
		env := testEnv(t, "report", "PATH="+dir+":"+fakeDir+":/usr/bin:/bin")
		cmd := execLauncher(env, "-p", "x")
		// Its own process group, all of which goes should it loop after all.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }) // whatever is left
		if code := waitCmd(t, cmd, 10*time.Second); code != 0 {
			t.Fatalf("link to %s: exit %d", target, code)
		}
		r := readReport(t, env)
		if settingsOf(t, r)["CLAUDE_BEDROCK_PROFILE"] != "code" || r.Ppid != cmd.Process.Pid {
			t.Errorf("link to %s: claude got %q from %d, want the launcher's arguments from %d", target, r.Args, r.Ppid, cmd.Process.Pid)
		}
	}
}

// The process-wrapper form runs the claude it names with the profile even
// when a launcher's mark is in the environment: Claude Code starts its
// background service with the environment it was given (measured), and
// those processes are claude's own. The mark goes no further.
func TestWrapperFormIgnoresTheMark(t *testing.T) {
	fake := filepath.Join(fakeDir, "claude")
	mark := launcher.Started{Pid: os.Getpid(), Path: "/somewhere/claude"}.String() // the test is an ancestor
	env := testEnv(t, "report", launcher.StartedVar+"="+mark, "CLAUDE_BEDROCK_PROFILE=light")
	if _, stderr, code := runLauncher(t, env, t.TempDir(), "", fake, "-p", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readReport(t, env)
	if settingsOf(t, r)["CLAUDE_BEDROCK_PROFILE"] != "light" || r.Env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] != "1024" {
		t.Errorf("the profile was not applied: %v", r.Env)
	}
	if v, ok := r.Env[launcher.StartedVar]; ok {
		t.Errorf("%s = %q passed on", launcher.StartedVar, v)
	}
	// Not in that form, the same mark is a launcher come back.
	env = testEnv(t, "report", launcher.StartedVar+"="+mark, "CLAUDE_BEDROCK_PROFILE=light")
	if _, stderr, code := runLauncher(t, env, t.TempDir(), "", "-p", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if r := readReport(t, env); strings.Join(r.Args, " ") != "-p x" {
		t.Errorf("claude got %q: want the arguments passed on as they came", r.Args)
	}
}

// TestRealClaudeRunsTheLauncherFromAHook: claude-bedrock started from
// inside a Claude Code session that a launcher started (here by a hook; its
// Bash tool and scripts inherit the same environment) is no loop: it
// launches as usual, with its own profile.
func TestRealClaudeRunsTheLauncherFromAHook(t *testing.T) {
	w := newRealWorld(t)
	out := filepath.Join(t.TempDir(), "nested.out")
	hook := launcherBin + " +light -p nested < /dev/null > " + out + " 2>&1"
	settings := `{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"` + hook + `"}]}]}}`
	if _, stderr, code := runLauncher(t, w.env, w.dir, "", "+code", "--settings", settings, "-p", "outer"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	nested, _ := os.ReadFile(out)
	var got []string
	for _, turn := range w.fake.Turns() {
		text := strings.TrimSpace(strings.Join(turn.UserTexts, "\n")) // system reminders first, the prompt last
		got = append(got, turn.Model+" "+strconv.Itoa(turn.MaxTokens)+" "+text[strings.LastIndex(text, "\n")+1:])
	}
	want := []string{haiku45 + " 1024 nested", sonnet45 + " 4096 outer"}
	if !slices.Contains(got, want[0]) || !slices.Contains(got, want[1]) {
		t.Errorf("turns %q, want %q (the nested run said %q)", got, want, nested)
	}
}
