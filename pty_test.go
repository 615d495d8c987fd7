package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
	"github.com/claude-bedrock/claude-bedrock/launcher"
)

func TestPTYPassThrough(t *testing.T) {
	env := testEnv(t, "interactive")
	cmd := execLauncher(env, "+light")
	term := ptytest.Start(t, cmd, 30, 100)
	term.WaitFor(t, "ready tty=true size=30x100\r\n", 10*time.Second)
	if m := term.Mode(t); !m.Raw() {
		t.Errorf("the user's terminal is not raw while claude runs: %+v", m)
	}
	term.Write("hello\r")
	term.WaitFor(t, "got \"hello\"\r\n", 10*time.Second)
	term.Resize(40, 120)
	term.WaitFor(t, "resized 40x120\r\n", 10*time.Second)
	if code := term.Wait(t, 10*time.Second); code != 7 {
		t.Errorf("exit %d, want claude's 7", code)
	}
	if m := term.Mode(t); !m.Sane() {
		t.Errorf("terminal not restored: %+v", m)
	}
	if out := string(term.Output()); strings.Contains(out, "\x1b[?") {
		t.Errorf("the launcher wrote terminal modes although claude left none on: %q", out)
	}
}

func TestPTYRestoresWhatAKilledClaudeLeftOn(t *testing.T) {
	env := testEnv(t, "crash")
	term := ptytest.Start(t, execLauncher(env), 24, 80)
	if code := term.Wait(t, 10*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Errorf("exit %d, want %d", code, 128+int(syscall.SIGKILL))
	}
	out := string(term.Output())
	_, after, ok := strings.Cut(out, "tui")
	if !ok {
		t.Fatalf("no output from claude: %q", out)
	}
	for _, seq := range []string{"\x1b[?1000l", "\x1b[?2004l", "\x1b[?25h", "\x1b[?1049l"} {
		if !strings.Contains(after, seq) {
			t.Errorf("no %q after claude died: %q", seq, after)
		}
	}
	if m := term.Mode(t); !m.Sane() {
		t.Errorf("terminal not restored: %+v", m)
	}
}

func TestPTYRelaysSignalsAndRestores(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		env := testEnv(t, "hang")
		cmd := execLauncher(env)
		term := ptytest.Start(t, cmd, 24, 80)
		term.WaitFor(t, "hanging", 10*time.Second)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := term.Wait(t, 10*time.Second); code != 128+int(sig) {
			t.Errorf("%v: exit %d, want %d", sig, code, 128+int(sig))
		}
		if m := term.Mode(t); !m.Sane() {
			t.Errorf("%v: terminal not restored: %+v", sig, m)
		}
	}
}

// With stdin and stdout on a terminal and stderr sent elsewhere (claude
// 2>err.log), claude's stderr goes there, as without the launcher, and
// not onto the screen through the PTY.
func TestPTYLeavesARedirectedStderrAlone(t *testing.T) {
	env := testEnv(t, "streams")
	cmd := execLauncher(env, "+light")
	errLog := filepath.Join(t.TempDir(), "err.log")
	f, err := os.Create(errLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // best effort: read below
	cmd.Stderr = f
	term := ptytest.Start(t, cmd, 24, 80)
	if code := term.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit %d, want claude's 0", code)
	}
	b, err := os.ReadFile(errLog)
	if err != nil {
		t.Fatal(err)
	}
	out := string(term.Output())
	if !strings.Contains(string(b), "to-stderr") {
		t.Errorf("claude's stderr did not reach err.log: %q (screen: %q)", b, out)
	}
	if strings.Contains(out, "to-stderr") || !strings.Contains(out, "to-stdout") {
		t.Errorf("screen %q: want claude's stdout and not its stderr", out)
	}
}

// When the offer shows up while the user is typing, what they type goes on
// to claude: it dismisses the offer, and a "y" in it relaunches nothing.
// And an answer typed once the offer has been up for OfferArming counts.
func TestTypingWhenTheOfferShowsGoesToClaude(t *testing.T) {
	replay := finalErrorScreen(t)

	for _, typed := range []bool{true, false} {
		env := testEnv(t, "replay", "FAKE_REPLAY="+replay)
		home := homeOf(env)
		term := ptytest.Start(t, execLauncher(env, "+code"), 30, 80)
		term.WaitFor(t, "Relaunch at 2048", 10*time.Second)
		if typed {
			term.Type("try again", 20*time.Millisecond)
			waitForFile(t, filepath.Join(home, "keys"), "try again")
		} else {
			time.Sleep(launcher.OfferArming)
			mark := term.Len()
			term.Write("y")
			term.WaitForSince(t, mark, "cap 4096 -> 2048", 10*time.Second)
			waitForFile(t, filepath.Join(home, "starts"), "--continue")
		}
		starts, err := os.ReadFile(filepath.Join(home, "starts"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(starts), "\n"); typed && n != 1 || !typed && n != 2 {
			t.Errorf("typed %v: claude started %d times:\n%s", typed, n, starts)
		}
		if err := syscall.Kill(term.Pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := term.Wait(t, 10*time.Second); code != 128+int(syscall.SIGTERM) {
			t.Errorf("typed %v: exit %d, want %d", typed, code, 128+int(syscall.SIGTERM))
		}
		if m := term.Mode(t); !m.Sane() {
			t.Errorf("terminal not restored: %+v", m)
		}
	}
}

// A relaunch gives the new claude the launcher's own variables again: its
// mark, and itself as the process wrapper when the config asks for one.
func TestRelaunchKeepsTheLaunchersVariables(t *testing.T) {
	env := testEnv(t, "replay", "FAKE_REPLAY="+finalErrorScreen(t))
	writeFile(t, filepath.Join(homeOf(env), ".config/claude-bedrock/config.toml"), "process_wrapper = true\n")
	term := ptytest.Start(t, execLauncher(env, "+code"), 30, 80)
	term.WaitFor(t, "Relaunch at 2048", 10*time.Second)
	time.Sleep(launcher.OfferArming)
	term.Write("y")
	waitForFile(t, filepath.Join(homeOf(env), "starts"), "--continue")
	_ = syscall.Kill(term.Pid(), syscall.SIGTERM)
	term.Wait(t, 10*time.Second)
	self, _ := filepath.EvalSymlinks(launcherBin)
	want := "wrapper=" + self + " started=" + strconv.Itoa(term.Pid()) + ":0:" + filepath.Join(fakeDir, "claude") + "\n"
	if b, _ := os.ReadFile(filepath.Join(homeOf(env), "envs")); string(b) != want+want {
		t.Errorf("claude's variables, first start then relaunch:\n%s\nwant twice:\n%s", b, want)
	}
}

// waitForFile waits until the file at path holds want.
func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q in it", path, b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// In a project whose trusted .claude-bedrock.toml sets the cap, saving a
// cap in the profile (k) would change nothing there: the offer does not
// propose it, and says where the cap comes from.
func TestNoKeepOfferWhereTheProjectSetsTheCap(t *testing.T) {
	replay := finalErrorScreen(t)
	env := testEnv(t, "replay", "FAKE_REPLAY="+replay)
	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, ".claude-bedrock.toml"), "profile = \"code\"\nmax_output_tokens = 8192\n")
	if _, stderr, code := runLauncher(t, env, proj, "", "+allow"); code != 0 {
		t.Fatalf("+allow: exit %d: %s", code, stderr)
	}
	cmd := execLauncher(env)
	cmd.Dir = proj
	term := ptytest.Start(t, cmd, 30, 200)
	term.WaitFor(t, "Relaunch at 4096", 10*time.Second)
	time.Sleep(launcher.OfferArming)
	term.Write("k") // not an answer here: typing, which goes to claude
	waitForFile(t, filepath.Join(homeOf(env), "keys"), "k")
	out := string(term.Output())
	if !strings.Contains(out, "y yes · n no") || strings.Contains(out, "k yes") || !strings.Contains(out, ".claude-bedrock.toml") {
		t.Errorf("the offer: %q; want y and n only, naming the project file", out)
	}
	_ = syscall.Kill(term.Pid(), syscall.SIGTERM)
	term.Wait(t, 10*time.Second)
	starts, _ := os.ReadFile(filepath.Join(homeOf(env), "starts"))
	if n := strings.Count(string(starts), "\n"); n != 1 {
		t.Errorf("claude started %d times, want once (k is no answer here):\n%s", n, starts)
	}
}

// Dismissing the offer has claude repaint its screen, old error included.
// A message typed and sent at once must not let that repaint count as a
// new failure: no second offer. Nor when claude, on a busy machine, is slow
// to repaint: it answered the first of the two resizes that make it repaint
// after the second, and that repaint was taken for the last one.
func TestSendingRightAfterDismissingOffersNothingNew(t *testing.T) {
	replay := finalErrorScreen(t)
	for _, delay := range []string{"0s", "150ms"} {
		t.Run("repaint after "+delay, func(t *testing.T) {
			env := testEnv(t, "replay", "FAKE_REPLAY="+replay, "FAKE_REPAINT_DELAY="+delay)
			term := ptytest.Start(t, execLauncher(env, "+code"), 30, 80)
			term.WaitFor(t, "Relaunch at 2048", 10*time.Second)
			time.Sleep(launcher.OfferArming)
			mark := term.Len()
			term.Write("n")
			term.Write("second\r")
			waitForFile(t, filepath.Join(homeOf(env), "keys"), "second\r")
			time.Sleep(time.Second) // claude's repaints, and an offer if one came of them
			if out := string(term.Output()[mark:]); strings.Contains(out, "Relaunch at") {
				t.Errorf("an offer after the dismissal and a new message: %q", out)
			}
			_ = syscall.Kill(term.Pid(), syscall.SIGTERM)
			term.Wait(t, 10*time.Second)
		})
	}
}

// finalErrorScreen writes, for the replay fake, the recording of Claude Code
// throttled at 80 columns up to its final 429 error and Resend hint, before
// it exits, and returns the file's path.
func finalErrorScreen(t *testing.T) string {
	t.Helper()
	rec, err := os.ReadFile(filepath.Join("launcher", "detect", "testdata", "tpm-final-w80.raw"))
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.Index(rec, []byte("\x1b[?1049l")) // where it leaves the alternate screen
	if end < 0 {
		t.Fatal("tpm-final-w80.raw never leaves the alternate screen")
	}
	path := filepath.Join(t.TempDir(), "tpm-final.raw")
	writeFile(t, path, string(rec[:end]))
	return path
}

// A large paste made while the offer shows dismisses it and reaches claude
// whole, the part read while claude repaints included.
func TestPasteWhileTheOfferShowsArrivesWhole(t *testing.T) {
	env := testEnv(t, "replay", "FAKE_REPLAY="+finalErrorScreen(t))
	term := ptytest.Start(t, execLauncher(env, "+code"), 30, 80)
	term.WaitFor(t, "Relaunch at 2048", 10*time.Second)
	time.Sleep(launcher.OfferArming)
	paste := "\x1b[200~" + strings.Repeat("log line 0123456789\n", 10000) + "\x1b[201~"
	term.Write(paste)
	waitForFile(t, filepath.Join(homeOf(env), "keys"), "\x1b[201~")
	if got, _ := os.ReadFile(filepath.Join(homeOf(env), "keys")); string(got) != paste {
		t.Errorf("claude got %d bytes of a %d-byte paste", len(got), len(paste))
	}
	_ = syscall.Kill(term.Pid(), syscall.SIGTERM)
	term.Wait(t, 10*time.Second)
}

// An offer on show when claude is stopped (kill -TSTP to the launcher)
// shows again after fg, and what is typed then still goes to claude:
// never an offer answering keys it does not show.
func TestOfferShowsAgainAfterAStop(t *testing.T) {
	env := testEnv(t, "replay", "FAKE_REPLAY="+finalErrorScreen(t))
	term := shell(t, env)
	term.Resize(30, 80)
	term.Write("$LAUNCHER +code\r")
	term.WaitFor(t, "Relaunch at 2048", 10*time.Second)
	pid := term.ForegroundPgrp(t) // the launcher leads its job
	if err := syscall.Kill(pid, syscall.SIGTSTP); err != nil {
		t.Fatal(err)
	}
	waitProcState(t, pid, 'T')
	term.WaitFor(t, "Stopped", 10*time.Second)
	mark := term.Len()
	term.Write("fg\r")
	term.WaitForSince(t, mark, "Relaunch at 2048", 10*time.Second)
	term.Type("please go on", 20*time.Millisecond)
	waitForFile(t, filepath.Join(homeOf(env), "keys"), "please go on")
	if starts, _ := os.ReadFile(filepath.Join(homeOf(env), "starts")); strings.Count(string(starts), "\n") != 1 {
		t.Errorf("claude started again:\n%s", starts)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	term.WaitForSince(t, mark, "$ ", 10*time.Second)
}

// Where no shell does job control (the launcher leads its own session, as
// in tmux new 'claude-bedrock'), the kernel discards a stop: after Ctrl-Z
// the launcher continues claude, and is never left stopped for good.
func TestCtrlZWithNoShellToResumeDoesNotHang(t *testing.T) {
	term := ptytest.Start(t, execLauncher(testEnv(t, "jobcontrol")), 24, 80)
	term.WaitFor(t, "fake ready", 10*time.Second)
	term.Write("\x1a")
	term.WaitFor(t, "suspended", 10*time.Second)
	term.WaitFor(t, "resumed", 10*time.Second)
	term.Write("ping\r")
	term.WaitFor(t, "pong", 10*time.Second)
	if code := term.Wait(t, 10*time.Second); code != 5 {
		t.Errorf("exit %d, want claude's 5", code)
	}
}
