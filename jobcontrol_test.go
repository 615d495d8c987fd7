package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

// shell starts an interactive bash on a terminal the test drives, with the
// launcher's test environment.
func shell(t *testing.T, env []string) *ptytest.Term {
	t.Helper()
	return shellNamed(t, "bash", env)
}

// shellNamed starts the interactive shell name (bash or zsh) without its
// startup files, its prompt "$ ", and no line editor: a line editor puts
// the terminal in its own mode at the prompt, and the tests check that the
// launcher left it cooked.
func shellNamed(t *testing.T, name string, env []string) *ptytest.Term {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed for the job-control tests: %v", name, err)
	}
	args := []string{"--norc", "--noprofile", "--noediting", "-i"}
	if name == "zsh" {
		args = []string{"-f", "-i", "+Z"} // no startup files, no line editor
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(env, "PS1=$ ", "LAUNCHER="+launcherBin)
	term := ptytest.Start(t, cmd, 24, 80)
	term.WaitFor(t, "$ ", 10*time.Second)
	return term
}

// Ctrl-Z, and a SIGTSTP sent to the launcher from outside, stop the job the
// way they stop claude alone: with SIGTSTP, so the shell says it is stopped
// without "(signal)" (its words for SIGSTOP) and $? is 128+SIGTSTP.
func TestStopLooksLikeClaudeAlone(t *testing.T) {
	for _, sh := range []struct{ name, stopped string }{{"bash", "Stopped"}, {"zsh", "suspended"}} {
		for _, how := range []string{"ctrl-z", "kill-tstp"} {
			t.Run(sh.name+"/"+how, func(t *testing.T) {
				term := shellNamed(t, sh.name, testEnv(t, "jobcontrol"))
				term.Write("$LAUNCHER\r")
				term.WaitFor(t, "fake ready", 10*time.Second)
				mark := term.Len()
				if how == "ctrl-z" {
					term.Write("\x1a")
				} else if err := syscall.Kill(launcherPid(t, term), syscall.SIGTSTP); err != nil {
					t.Fatal(err)
				}
				term.WaitForSince(t, mark, sh.stopped, 10*time.Second)
				term.WaitForSince(t, mark, "$ ", 10*time.Second)
				mark = term.Len()
				term.Write("echo rc=$?\r")
				term.WaitForSince(t, mark, "$ ", 10*time.Second)
				if m := regexp.MustCompile(`rc=(\d+)`).FindSubmatch(term.Output()[mark:]); m == nil || string(m[1]) != strconv.Itoa(128+int(syscall.SIGTSTP)) {
					t.Errorf("%s: $? after the stop: %q, want rc=%d", sh.name, m, 128+int(syscall.SIGTSTP))
				}
				mark = term.Len()
				term.Write("jobs -l\r")
				term.WaitForSince(t, mark, sh.stopped, 10*time.Second)
				term.WaitForSince(t, mark, "$ ", 10*time.Second)
				if out := term.Output()[mark:]; bytes.Contains(out, []byte("(signal)")) {
					t.Errorf("%s says %q: the launcher stopped with SIGSTOP", sh.name, out)
				}
				mark = term.Len()
				term.Write("fg\r")
				if how == "ctrl-z" {
					term.WaitForSince(t, mark, "resumed", 10*time.Second) // raw again, reading
				} else {
					waitRaw(t, term) // stopped from outside, it says nothing on resume
				}
				endShell(t, term)
			})
		}
	}
}

func TestCtrlZSuspendsAndFgResumes(t *testing.T) {
	term := shell(t, testEnv(t, "jobcontrol"))
	term.Write("$LAUNCHER +light\r")
	term.WaitFor(t, "fake ready", 10*time.Second)
	if m := term.Mode(t); !m.Raw() {
		t.Fatalf("not raw while the fake runs: %+v", m)
	}

	for round := 0; round < 2; round++ {
		mark := term.Len()
		term.Write("\x1a")
		term.WaitForSince(t, mark, "suspended", 10*time.Second)
		term.WaitForSince(t, mark, "Stopped", 10*time.Second)
		term.WaitForSince(t, mark, "$ ", 10*time.Second)
		if m := term.Mode(t); !m.Sane() {
			t.Fatalf("round %d: the terminal is not cooked while stopped: %+v", round, m)
		}
		rows, cols := 30+round, 90+round
		term.Resize(rows, cols) // the window changes while the job is stopped
		mark = term.Len()
		term.Write("fg\r")
		term.WaitForSince(t, mark, "resumed size="+strconv.Itoa(rows)+"x"+strconv.Itoa(cols), 10*time.Second)
		if m := term.Mode(t); !m.Raw() {
			t.Fatalf("round %d: not raw after fg: %+v", round, m)
		}
	}

	mark := term.Len()
	term.Write("ping\r")
	term.WaitForSince(t, mark, "pong", 10*time.Second)
	term.WaitForSince(t, mark, "$ ", 10*time.Second)
	expectExit(t, term, mark, 5)
}

// expectExit checks, back at the shell's prompt, that the terminal is cooked
// and the launcher's exit status was code, then ends the shell.
func expectExit(t *testing.T, term *ptytest.Term, mark, code int) {
	t.Helper()
	if m := term.Mode(t); !m.Sane() {
		t.Errorf("terminal not restored at the end: %+v", m)
	}
	term.Write("echo rc=$?\r")
	term.WaitForSince(t, mark, "rc="+strconv.Itoa(code), 10*time.Second)
	term.Write("exit\r")
	term.Wait(t, 10*time.Second)
}

// endShell types ping, waits for the fake's answer and the shell's prompt
// after it, then ends the shell.
func endShell(t *testing.T, term *ptytest.Term) {
	t.Helper()
	mark := term.Len()
	term.Write("ping\r")
	term.WaitForSince(t, mark, "pong", 10*time.Second)
	term.WaitForSince(t, mark, "$ ", 10*time.Second)
	term.Write("exit\r")
	term.Wait(t, 10*time.Second)
}

func TestBgStopsAgainAndFgResumes(t *testing.T) {
	term := shell(t, testEnv(t, "jobcontrol", "CLAUDE_BEDROCK_DEBUG=1"))
	term.Write("$LAUNCHER\r")
	term.WaitFor(t, "fake ready", 10*time.Second)
	pid := launcherPid(t, term)
	mark := term.Len()
	term.Write("\x1a")
	term.WaitForSince(t, mark, "Stopped", 10*time.Second)
	term.WaitForSince(t, mark, "$ ", 10*time.Second)
	mark = term.Len()
	term.Write("bg\r")
	term.WaitForSince(t, mark, "$ ", 10*time.Second) // bash has continued it
	// In the background the launcher cannot take the terminal: it stops
	// again, as a full-screen program does, and leaves claude stopped.
	waitProcState(t, pid, 'T')
	// bash must have seen that stop before fg, or it takes the job for
	// running and sends no SIGCONT (as it would for any program).
	for deadline := time.Now().Add(10 * time.Second); ; {
		mark = term.Len()
		term.Write("jobs\r")
		term.WaitForSince(t, mark, "$ ", 10*time.Second)
		if bytes.Contains(term.Output()[mark:], []byte("Stopped")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bash does not report the launcher stopped after bg: %q", term.Output()[mark:])
		}
	}
	mark = term.Len()
	term.Write("fg\r")
	term.WaitForSince(t, mark, "resumed", 10*time.Second)
	if n := bytes.Count(term.Output(), []byte("resumed")); n != 1 {
		t.Errorf("claude was continued %d times, want once (at fg, not at bg)", n)
	}
	endShell(t, term)
}

// launcherPid is the launcher's pid, as the fake claude printed its parent.
func launcherPid(t *testing.T, term *ptytest.Term) int {
	t.Helper()
	m := regexp.MustCompile(`ppid=(\d+)`).FindSubmatch(term.Output())
	if m == nil {
		t.Fatal("no ppid from the fake")
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

// waitProcState waits until the process is in one of the states (as in
// /proc/PID/stat: R running, S sleeping, T stopped).
func waitProcState(t *testing.T, pid int, states ...byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) S ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i >= 0 && i+2 < len(b) && bytes.IndexByte(states, b[i+2]) >= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d in state %q after 10s, want one of %q", pid, b[i+2], states)
		}
		time.Sleep(5 * time.Millisecond) // no event tells another process's state
	}
}

func TestSIGTSTPToTheLauncherSuspendsClaude(t *testing.T) {
	term := shell(t, testEnv(t, "jobcontrol"))
	term.Write("$LAUNCHER\r")
	term.WaitFor(t, "fake ready", 10*time.Second)
	pid := launcherPid(t, term)
	mark := term.Len()
	if err := syscall.Kill(pid, syscall.SIGTSTP); err != nil {
		t.Fatal(err)
	}
	term.WaitForSince(t, mark, "Stopped", 10*time.Second)
	term.WaitForSince(t, mark, "$ ", 10*time.Second)
	if m := term.Mode(t); !m.Sane() {
		t.Fatalf("the terminal is not cooked while stopped: %+v", m)
	}
	mark = term.Len()
	term.Write("fg\r")
	// The fake was stopped from outside (it ignored SIGTSTP, as its group is
	// orphaned), so it says nothing on resume: wait for raw mode, then type.
	waitRaw(t, term)
	endShell(t, term)
}

// waitRaw polls the terminal mode until the launcher has made it raw.
func waitRaw(t *testing.T, term *ptytest.Term) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !term.Mode(t).Raw() {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal is not raw after 10s: %+v", term.Mode(t))
		}
		time.Sleep(10 * time.Millisecond) // no event tells a terminal's mode changed
	}
}

// TestRealClaudeCtrlZAndFg: the real Claude Code under the launcher in a
// shell: Ctrl-Z suspends the job, fg brings the same session back, and the
// next message still goes out with the profile's cap.
func TestRealClaudeCtrlZAndFg(t *testing.T) {
	w := newRealWorld(t)
	term := shell(t, w.env)
	term.Write("cd " + w.dir + " && $LAUNCHER +light\r")
	term.WaitForScreen(t, tuiReady, 60*time.Second)

	mark := term.Len()
	term.Write("\x1a")
	term.WaitForSince(t, mark, "Claude Code is suspended", 30*time.Second)
	term.WaitForSince(t, mark, "Stopped", 30*time.Second)
	term.WaitForSince(t, mark, "$ ", 10*time.Second)
	if m := term.Mode(t); !m.Sane() {
		t.Fatalf("the terminal is not cooked while claude is stopped: %+v", m)
	}

	mark = term.Len()
	term.Write("fg\r")
	term.WaitForScreenSince(t, mark, tuiReady, 30*time.Second) // claude redrew
	waitRaw(t, term)
	term.Type("after fg", 10*time.Millisecond)
	term.Write("\r")
	turn := w.fake.WaitTurns(t, 1, 60*time.Second)[0]
	if turn.MaxTokens != 1024 || turn.Model != haiku45 {
		t.Errorf("after fg: model %s max_tokens %d; want %s 1024", turn.Model, turn.MaxTokens, haiku45)
	}
	term.WaitForScreenSince(t, mark, fakebedrock.DefaultReply, 30*time.Second)
	term.Write("\x03")
	term.WaitForScreen(t, "Ctrl-C again", 10*time.Second)
	mark = term.Len()
	term.Write("\x03")
	term.WaitForSince(t, mark, "$ ", 30*time.Second)
	expectExit(t, term, mark, 0)
}
